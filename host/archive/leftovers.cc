#include "leftovers.h"

#include <chrono>
#include <memory>
#include <set>

#include "chunk_checksum.h"
#include "manifest_commit.h"

namespace fls::internal {
namespace {

// The placed copy of chunk `index` of object `id` checks out against the
// size and checksum its manifest recorded. The chunk format's checksum rule
// (whole file or block data, docs/FORMAT.md) and the block layout come from
// the copy's own header, which must be valid and name this chunk; every block
// must match its CRC (CheckChunkFile).
Status CheckPlacedCopy(Env* env, const std::string& path, const ObjectId& id, int index,
                       std::uint32_t crc, std::uint64_t bytes) {
  std::unique_ptr<RandomAccessFile> f;
  FLS_RETURN_IF_ERROR(env->NewRandomAccessFileNoFollow(path, &f, nullptr));
  std::uint8_t buf[kChunkHeaderBytes];
  std::size_t got = 0;
  FLS_RETURN_IF_ERROR(f->Read(0, sizeof buf, buf, &got));
  ChunkHeader h;
  FLS_RETURN_IF_ERROR(DecodeChunkHeader(buf, got, &h));
  if (!(h.object_id == id) || h.chunk_index != index)
    return Status::Corruption(path + ": its header names another chunk");
  Manifest mf;
  mf.chunk_format_version = h.format_version;
  mf.format_version = h.format_version == 1 ? kManifestFormatVersion1 : kManifestFormatVersion;
  mf.name = ObjectIdToHex(id);
  mf.id = id;
  mf.k = h.k;
  mf.m = h.m;
  mf.matrix = h.matrix;
  mf.stripe_width = h.stripe_width;
  mf.block_size = h.block_size;
  mf.last_block_size = h.last_block_size;
  mf.size = h.file_size;
  mf.stripes = h.stripe_count;
  mf.chunks.resize(static_cast<std::size_t>(h.k) + h.m);
  mf.chunks[index].crc32c = crc;
  mf.chunks[index].bytes = bytes;
  return CheckChunkFile(env, path, mf, index);
}

}  // namespace

bool CleanManifestLeftovers(const Store& store, const CatalogEntry& e,
                            std::vector<std::string>* cleaned, std::vector<std::string>* warnings,
                            bool* in_flux) {
  Env* env = store.env();
  *in_flux = false;
  const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const bool partial = e.copies.size() < e.manifest.manifest_targets.size();
  if (partial && e.manifest.generation == 1) {
    FileInfo info;
    if (!e.copies.empty() && env->GetFileInfo(e.copies.front(), &info).ok() &&
        now_ns - info.mtime_ns < Store::kStaleTempIdleNs) {
      *in_flux = true;
      warnings->push_back("'" + e.manifest.name +
                          "': its manifest is still being written (an archive in "
                          "progress?); left where it is");
      return false;
    }
  }
  if (!partial && e.stale_copies.empty() && e.bad_copies.empty()) return false;
  std::vector<std::string> written;
  if (partial || !e.bad_copies.empty()) {
    Manifest next = e.manifest;
    Status s = CommitNextGeneration(store, e, &next, &written);
    if (!s.ok()) {
      warnings->push_back("re-committing the manifest of '" + e.manifest.name +
                          "': " + s.ToString());
      return false;
    }
  }
  const std::set<std::string> kept(written.begin(), written.end());
  CatalogEntry superseded;
  if (partial || !e.bad_copies.empty()) {
    superseded.copies = e.copies;
    superseded.bad_copies = e.bad_copies;
  }
  superseded.stale_copies = e.stale_copies;
  for (const auto& list : {superseded.copies, superseded.stale_copies, superseded.bad_copies})
    for (const std::string& p : list)
      if (!kept.count(p)) cleaned->push_back(p);
  RemoveSupersededCopies(env, superseded, written);
  return true;
}

bool RemoveLeftoverChunks(const Store& store, const ChunkReferences& refs,
                          const std::vector<UnreferencedChunk>& found,
                          std::vector<std::string>* cleaned, std::vector<std::string>* warnings) {
  Env* env = store.env();
  bool removed_any = false;
  std::set<std::string> dirs;
  for (const UnreferencedChunk& u : found) {
    if (u.orphan) continue;
    const int placed = refs.PlacedTarget(u.id, u.index);
    std::uint32_t want_crc = 0;
    std::uint64_t want_bytes = 0;
    if (placed < 0 || !refs.Expected(u.id, u.index, &want_crc, &want_bytes)) continue;
    const std::string placed_path =
        JoinPath(store.targets()[placed].path, ChunkFileName(u.id, u.index));
    if (!CheckPlacedCopy(env, placed_path, u.id, u.index, want_crc, want_bytes).ok()) {
      warnings->push_back("kept " + u.path + ": the copy its manifest names (" + placed_path +
                          ") is missing or damaged; run `fls repair`");
      continue;
    }
    if (env->RemoveFile(u.path).ok()) {
      cleaned->push_back(u.path);
      dirs.insert(DirName(u.path));
      removed_any = true;
    }
  }
  for (const std::string& d : dirs) env->SyncDir(d);
  return removed_any;
}

}  // namespace fls::internal
