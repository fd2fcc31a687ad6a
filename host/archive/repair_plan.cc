// Shared repair pieces (host/archive/repair_plan.h).
#include "repair_plan.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "fls/chunk_format.h"
#include "fls/crc32c.h"
#include "manifest_commit.h"

namespace fls::internal {
namespace {

// A target is usable when its directory is there and can be listed: a
// directory that is gone or unreadable (a dead disk) is a lost target.
bool TargetUsable(Env* env, const std::string& dir) {
  FileInfo info;
  if (dir.empty() || !env->GetFileInfo(dir, &info).ok() || !info.is_directory) return false;
  // Listable: one entry is enough to know.
  return env->ForEachChild(dir, [](std::string_view) { return false; }).ok();
}

}  // namespace

TargetProbe ProbeTargets(const Store& store) {
  TargetProbe p;
  for (std::size_t i = 0; i < store.targets().size(); ++i) {
    const Target& t = store.targets()[i];
    std::uint64_t free = 0;
    // Joined targets only: version 3 manifests name targets by identity.
    const bool ok = !store.TargetId(static_cast<int>(i)).empty() &&
                    TargetUsable(store.env(), t.path) &&
                    store.env()->GetFreeSpace(t.path, &free).ok();
    p.usable.push_back(ok);
    p.free.push_back(ok ? free : 0);
  }
  return p;
}

Status ChooseRepairTargets(const Store& store, const Manifest& mf, const std::vector<int>& bad,
                           TargetProbe* probe, std::vector<int>* new_target) {
  new_target->assign(mf.chunks.size(), -1);
  std::set<std::string> used, used_domains;
  for (const ManifestChunk& c : mf.chunks) {
    used.insert(c.target);
    used_domains.insert(c.domain);
  }
  for (int i : bad) {
    const int own = store.TargetIndexOf(mf.chunks[i]);
    if (own >= 0 ? probe->usable[own] : TargetUsable(store.env(), mf.chunks[i].target)) continue;
    int best = -1;
    std::uint64_t best_free = 0;
    int best_rank = 3;
    for (std::size_t t = 0; t < store.targets().size(); ++t) {
      const Target& tg = store.targets()[t];
      if (!probe->usable[t] || probe->free[t] < mf.chunks[i].bytes) continue;
      const std::uint64_t free = probe->free[t];
      const int rank = used.count(tg.path) ? 2 : (used_domains.count(tg.domain) ? 1 : 0);
      if (rank < best_rank || (rank == best_rank && free > best_free)) {
        best = static_cast<int>(t);
        best_rank = rank;
        best_free = free;
      }
    }
    if (best < 0)
      return Status::NoSpace("no target of the store can take chunk " + std::to_string(i) +
                             " of object '" + mf.name + "' (" + std::to_string(mf.chunks[i].bytes) +
                             " bytes)");
    (*new_target)[i] = best;
    probe->free[best] -= mf.chunks[i].bytes;
    used.insert(store.targets()[best].path);
    used_domains.insert(store.targets()[best].domain);
  }
  return Status::Ok();
}

Manifest MovedManifest(const Store& store, const Manifest& mf, const std::vector<int>& bad,
                       const std::vector<int>& new_target) {
  Manifest next = mf;
  for (int i : bad) {
    if (new_target[i] < 0) continue;
    next.chunks[i].target = store.targets()[new_target[i]].path;
    next.chunks[i].domain = store.targets()[new_target[i]].domain;
    if (!IsPathAddressedManifest(next.format_version))
      next.chunks[i].target_id = store.TargetId(new_target[i]);
  }
  return next;
}

std::size_t RepairGroupBlock(std::size_t block, std::size_t full) {
  if (block >= full) return full;
  std::size_t pow2 = std::size_t{64} << 10;
  while (pow2 < block) pow2 <<= 1;
  return std::min(pow2, full);
}

std::shared_ptr<StripeBatch> PaddedBatch(const StripeBatch& b, int n, std::size_t block) {
  auto out = std::make_shared<StripeBatch>();
  out->first = b.first;
  out->stripes = b.stripes;
  out->block = out->stride = block;
  out->buf.emplace_back(b.stripes * n * block);
  std::memset(out->buf[0].data(), 0, out->buf[0].size());
  out->shards.assign(b.stripes * n, nullptr);
  for (std::size_t i = 0; i < b.stripes * n; ++i) {
    if (b.shards[i] == nullptr) continue;
    std::uint8_t* dst = out->buf[0].data() + i * block;
    std::memcpy(dst, b.shards[i], b.block);
    out->shards[i] = dst;
  }
  return out;
}

RebuiltChunkWriter::RebuiltChunkWriter(Env* env, const Manifest& next, std::vector<int> bad)
    : env_(env),
      next_(next),
      geometry_(next.geometry()),
      checksummer_(next),
      bad_(std::move(bad)) {}

Status RebuiltChunkWriter::Open() {
  for (int i : bad_) {
    Out o;
    o.final_path = next_.chunks[i].path();
    o.tmp = TempPathFor(o.final_path);
    std::unique_ptr<WritableFile> f;
    Status s = env_->NewWritableFile(o.tmp, &f);
    if (!s.ok())
      return s.WithContext("rebuilding chunk " + std::to_string(i) + " on " +
                           next_.chunks[i].target);
    o.file = std::make_unique<BufferedAppender>(std::move(f), false);
    o.sum = checksummer_.Start(i);
    outs_.push_back(std::move(o));
    std::uint8_t header[kChunkHeaderBytes];
    EncodeChunkHeader(next_.HeaderFor(i), header);
    FLS_RETURN_IF_ERROR(outs_.back()
                            .file->Append(header, sizeof header)
                            .WithContext("rebuilding chunk " + std::to_string(i)));
  }
  return Status::Ok();
}

Status RebuiltChunkWriter::Write(Out& o, int index, const std::uint8_t* block) {
  const std::size_t b = geometry_.block_size(o.stripe);
  const std::uint32_t block_crc = Crc32c(block, b);
  std::uint8_t crc[kBlockCrcBytes];
  PutLe32(crc, block_crc);
  o.sum = checksummer_.Add(o.sum, o.stripe++, block_crc);
  FLS_RETURN_IF_ERROR(
      o.file->Append(block, b).WithContext("rebuilding chunk " + std::to_string(index)));
  return o.file->Append(crc, sizeof crc);
}

Status RebuiltChunkWriter::AppendBlock(std::size_t x, std::uint64_t stripe,
                                       const std::uint8_t* block) {
  Out& o = outs_[x];
  if (stripe < o.stripe || stripe >= geometry_.stripes() || o.early.count(stripe))
    return Status::Internal("rebuilt chunk " + std::to_string(bad_[x]) + " of object '" +
                            next_.name + "': stripe " + std::to_string(stripe) +
                            " given twice or out of range");
  if (stripe > o.stripe) {
    o.early[stripe].assign(block, block + geometry_.block_size(stripe));
    return Status::Ok();
  }
  FLS_RETURN_IF_ERROR(Write(o, bad_[x], block));
  for (auto it = o.early.begin(); it != o.early.end() && it->first == o.stripe;
       it = o.early.erase(it))
    FLS_RETURN_IF_ERROR(Write(o, bad_[x], it->second.data()));
  return Status::Ok();
}

Status RebuiltChunkWriter::AppendStripe(const std::uint8_t* const* blocks) {
  for (std::size_t x = 0; x < outs_.size(); ++x)
    FLS_RETURN_IF_ERROR(AppendBlock(x, outs_[x].stripe, blocks[x]));
  return Status::Ok();
}

Status RebuiltChunkWriter::Finish(std::vector<std::string>* final_paths) {
  for (std::size_t x = 0; x < outs_.size(); ++x) {
    const int i = bad_[x];
    if (outs_[x].stripe != geometry_.stripes())
      return Status::Internal("rebuilt chunk " + std::to_string(i) + " of object '" + next_.name +
                              "' has " + std::to_string(outs_[x].stripe) + " of " +
                              std::to_string(geometry_.stripes()) +
                              " stripes; nothing was changed");
    Status s = outs_[x].file->SyncAndClose();
    if (s.ok() &&
        (outs_[x].sum != next_.chunks[i].crc32c || outs_[x].file->bytes() != next_.chunks[i].bytes))
      s = Status::Internal("rebuilt chunk " + std::to_string(i) + " of object '" + next_.name +
                           "' does not match the manifest's checksum; nothing was changed");
    if (!s.ok()) return s.WithContext("rebuilding chunk " + std::to_string(i));
  }
  std::set<std::string> dirs;
  for (Out& o : outs_) {
    FLS_RETURN_IF_ERROR(env_->RenameFile(o.tmp, o.final_path));
    // Renamed: the file is the chunk now, Abort must not touch it.
    o.tmp.clear();
    dirs.insert(DirName(o.final_path));
    if (final_paths != nullptr) final_paths->push_back(o.final_path);
  }
  finished_ = true;
  for (const std::string& d : dirs)
    FLS_RETURN_IF_ERROR(env_->SyncDir(d).WithContext("target " + d));
  return Status::Ok();
}

void RebuiltChunkWriter::Abort() {
  if (finished_) return;
  for (Out& o : outs_) {
    o.file.reset();
    if (!o.tmp.empty()) env_->RemoveFile(o.tmp);
  }
  outs_.clear();
}

Status CommitRepairedManifest(const Store& store, const CatalogEntry& entry, Manifest mf,
                              std::uint64_t* generation) {
  std::vector<std::string> written;
  FLS_RETURN_IF_ERROR(CommitNextGeneration(store, entry, &mf, &written));
  *generation = mf.generation;
  // Older generations are now superseded; removing them is housekeeping.
  RemoveSupersededCopies(store.env(), entry, written);
  return Status::Ok();
}

}  // namespace fls::internal
