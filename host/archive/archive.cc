// ArchiveFile and ArchiveOpenFile (fls/archive.h); RestoreObject is in restore.cc.
#include "fls/archive.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "chunk_checksum.h"
#include "fls/backend_registry.h"
#include "fls/codec.h"
#include "fls/crc32c.h"
#include "fls/pack.h"
#include "fls/sha256.h"
#include "fls/thread_pool.h"
#include "manifest_commit.h"
#include "object_io.h"
#include "pipeline.h"
#include "quick_check.h"

namespace fls {

using internal::BufferedAppender;

const char* HealthName(Health h) {
  switch (h) {
    case Health::kHealthy:
      return "healthy";
    case Health::kDegraded:
      return "degraded";
    case Health::kUnrecoverable:
      return "unrecoverable";
  }
  return "?";
}

Status Sha256File(Env* env, const std::string& path, std::string* hex) {
  std::unique_ptr<RandomAccessFile> f;
  FLS_RETURN_IF_ERROR(env->NewRandomAccessFile(path, &f));
  return Sha256OfFile(*f, hex);
}

Status Sha256OfFile(const RandomAccessFile& file, std::string* hex) {
  const RandomAccessFile* f = &file;
  Sha256 sha;
  std::vector<std::uint8_t> buf(4u << 20);
  std::uint64_t off = 0;
  for (;;) {
    std::size_t got = 0;
    FLS_RETURN_IF_ERROR(f->Read(off, buf.size(), buf.data(), &got));
    if (got == 0) break;
    sha.Update(buf.data(), got);
    off += got;
  }
  *hex = sha.FinishHex();
  return Status::Ok();
}

namespace {

struct ArchiveSlot {
  std::uint64_t first = 0;
  std::size_t stripes = 0;
  std::size_t block = 0;            // block bytes of these stripes (one size per slot)
  std::uint64_t bytes = 0;          // file bytes in this slot
  internal::AlignedBuffer data;     // stripes * W (page-aligned: see AlignedBuffer)
  internal::AlignedBuffer parity;   // stripes * m * B
  std::vector<std::uint32_t> crcs;  // stripes * (k + m)
  std::vector<const std::uint8_t*> data_ptrs;
  std::vector<std::uint8_t*> parity_ptrs;
};

// The chunk files being written; removes everything on destruction unless
// committed.
struct ChunkWriters {
  Env* env;
  std::vector<std::unique_ptr<BufferedAppender>> files;
  std::vector<std::string> temp_paths, final_paths, renamed;
  bool committed = false;
  explicit ChunkWriters(Env* e) : env(e) {}
  ~ChunkWriters() {
    if (committed) return;
    files.clear();
    std::set<std::string> dirs;
    for (const auto& p : temp_paths) {
      env->RemoveFile(p);
      dirs.insert(DirName(p));
    }
    for (const auto& p : renamed) env->RemoveFile(p);
    for (const auto& d : dirs) env->SyncDir(d);
  }
};

// An object named like the one being archived exists: the rsync quick check
// (size, mtime and mode; the SHA-256 with compare_checksum) decides whether
// `input` is what was archived under that name (unchanged: nothing to do) or
// another file (refused). The SHA-256 is read through the open `input`: its
// path is never opened again (a service source was opened below its root).
Status CheckExisting(const RandomAccessFile& input, const FileInfo& info, const ArchiveOptions& opt,
                     const CatalogEntry& existing, ArchiveResult* result) {
  const Manifest& mf = existing.manifest;
  FLS_RETURN_IF_ERROR(internal::QuickCheck(
      input, info, opt.compare_checksum, {mf.name, mf.size, mf.mtime_ns, mf.mode, mf.sha256, ""}));
  if (result) {
    std::vector<std::string> tnames, tdomains;
    for (const ManifestChunk& c : mf.chunks) {
      tnames.push_back(c.target);
      tdomains.push_back(c.domain);
    }
    const FaultTolerance tol = ToleranceOf(tnames, tdomains, mf.m);
    *result = ArchiveResult{};
    result->manifest = mf;
    result->unchanged = true;
    result->target_failures_tolerated = tol.targets;
    result->domain_failures_tolerated = tol.domains;
  }
  return Status::Ok();
}

// The name is a packed file: the same check against its member record.
Status CheckExistingMember(const RandomAccessFile& input, const FileInfo& info,
                           const ArchiveOptions& opt, const MemberEntry& member,
                           ArchiveResult* result) {
  const PackEntry& e = member.member;
  FLS_RETURN_IF_ERROR(internal::QuickCheck(
      input, info, opt.compare_checksum,
      {e.name, e.length, e.mtime_ns, e.mode, e.sha256, "; it is packed in " + e.pack}));
  if (result) {
    *result = ArchiveResult{};
    result->manifest = member.pack.manifest;
    result->manifest.name = e.name;
    result->manifest.size = e.length;
    result->manifest.sha256 = e.sha256;
    result->manifest.mode = e.mode;
    result->manifest.mtime_ns = e.mtime_ns;
    result->unchanged = true;
    result->packed_in = e.pack;
  }
  return Status::Ok();
}

// Creates the temporaries of the k + m chunk files, each starting with its
// header; `writers` removes them unless the object commits.
Status OpenChunkWriters(Env* env, const Manifest& mf, ChunkWriters* writers) {
  for (int i = 0; i < mf.k + mf.m; ++i) {
    const std::string final_path = mf.chunks[i].path();
    const std::string tmp = TempPathFor(final_path);
    std::unique_ptr<WritableFile> f;
    Status s = env->NewWritableFile(tmp, &f);
    if (!s.ok())
      return s.WithContext("chunk " + std::to_string(i) + " on target " + mf.chunks[i].target);
    writers->temp_paths.push_back(tmp);
    writers->final_paths.push_back(final_path);
    writers->files.push_back(std::make_unique<BufferedAppender>(std::move(f), false));
    std::uint8_t header[kChunkHeaderBytes];
    EncodeChunkHeader(mf.HeaderFor(i), header);
    s = writers->files.back()->Append(header, sizeof header);
    if (!s.ok())
      return s.WithContext("chunk " + std::to_string(i) + " on target " + mf.chunks[i].target);
  }
  return Status::Ok();
}

// Reads `input` stripe batch by stripe batch, hashes it, encodes it (block
// CRCs included) and appends every block to its chunk writer; `sums` gets
// each chunk's checksum (manifest crc32c) and `sha256` the file's digest.
Status EncodeIntoChunks(const RandomAccessFile& input, const Manifest& mf, const StripeGeometry& g,
                        Backend* backend, const ArchiveOptions& opt, ThreadPool& io_pool,
                        ChunkWriters& writers, std::vector<std::uint32_t>* sums,
                        std::string* sha256) {
  const std::string& path = input.path();
  const RandomAccessFile* src = &input;
  const int k = mf.k, m = mf.m, n = k + m;
  const std::uint64_t B = mf.block_size, W = mf.stripe_width;
  const std::size_t per = internal::StripesPerBatch(W, mf.stripes);
  std::vector<std::unique_ptr<ArchiveSlot>> slots;
  if (mf.stripes > 0) {
    for (int i = 0; i < internal::kPipelineSlots && static_cast<std::uint64_t>(i) < mf.stripes;
         ++i) {
      auto s = std::make_unique<ArchiveSlot>();
      s->data = internal::AlignedBuffer(per * W);
      s->parity = internal::AlignedBuffer(per * m * B);
      s->crcs.resize(per * n);
      s->data_ptrs.resize(per * k);
      s->parity_ptrs.resize(per * m);
      slots.push_back(std::move(s));
    }
  }
  std::uint64_t next = 0;
  auto source = [&](ArchiveSlot& slot, bool* produced) -> Status {
    if (next >= mf.stripes) {
      *produced = false;
      return Status::Ok();
    }
    slot.first = next;
    slot.stripes = static_cast<std::size_t>(g.uniform_run(next, per));
    slot.block = static_cast<std::size_t>(g.block_size(next));
    const std::uint64_t off = g.stripe_offset(next);
    slot.bytes = std::min<std::uint64_t>(slot.stripes * W, mf.size - off);
    std::size_t got = 0;
    FLS_RETURN_IF_ERROR(src->Read(off, slot.bytes, slot.data.data(), &got));
    if (got != slot.bytes)
      return Status::IOError(path + ": file shrank while being archived (read " +
                             std::to_string(off + got) + " of " + std::to_string(mf.size) +
                             " bytes)");
    // The file's bytes lie in the slot as the geometry cuts them: k blocks of
    // slot.block per stripe back to back (k * block = W but in a short last
    // stripe), then zero padding.
    std::memset(slot.data.data() + slot.bytes, 0, slot.stripes * W - slot.bytes);
    const std::size_t b = slot.block;
    for (std::size_t st = 0; st < slot.stripes; ++st) {
      for (int j = 0; j < k; ++j) slot.data_ptrs[st * k + j] = slot.data.data() + (st * k + j) * b;
      for (int p = 0; p < m; ++p)
        slot.parity_ptrs[st * m + p] = slot.parity.data() + (st * m + p) * b;
    }
    next += slot.stripes;
    *produced = true;
    return Status::Ok();
  };
  Sha256 sha;
  auto hash = [&](ArchiveSlot& slot) -> Status {
    sha.Update(slot.data.data(), slot.bytes);
    return Status::Ok();
  };
  auto encode = [&](ArchiveSlot& slot) -> Status {
    EncodeBatch eb;
    eb.stripes = slot.stripes;
    eb.block_bytes = slot.block;
    eb.data = std::span<const std::uint8_t* const>(slot.data_ptrs.data(), slot.stripes * k);
    eb.parity = std::span<std::uint8_t* const>(slot.parity_ptrs.data(), slot.stripes * m);
    eb.block_crcs = std::span<std::uint32_t>(slot.crcs.data(), slot.stripes * n);
    FLS_RETURN_IF_ERROR(backend->Encode(eb));
    if (slot.first + slot.stripes == mf.stripes && opt.encode_done) opt.encode_done();
    return Status::Ok();
  };
  std::uint64_t done = 0;
  const internal::ChunkChecksummer checksummer(mf);
  sums->assign(n, 0);
  for (int i = 0; i < n; ++i) (*sums)[i] = checksummer.Start(i);
  auto write = [&](ArchiveSlot& slot) -> Status {
    std::vector<Status> statuses(n);
    io_pool.Run(n, [&](std::size_t i) {
      for (std::size_t s = 0; s < slot.stripes && statuses[i].ok(); ++s) {
        const std::uint8_t* block = i < static_cast<std::size_t>(k)
                                        ? slot.data_ptrs[s * k + i]
                                        : slot.parity_ptrs[s * m + (i - k)];
        std::uint8_t crc[4];
        PutLe32(crc, slot.crcs[s * n + i]);
        (*sums)[i] = checksummer.Add((*sums)[i], slot.first + s, slot.crcs[s * n + i]);
        statuses[i] = writers.files[i]->Append(block, slot.block);
        if (statuses[i].ok()) statuses[i] = writers.files[i]->Append(crc, 4);
      }
    });
    for (int i = 0; i < n; ++i)
      if (!statuses[i].ok())
        return statuses[i].WithContext("chunk " + std::to_string(i) + " on target " +
                                       mf.chunks[i].target);
    done += slot.bytes;
    if (opt.progress) opt.progress(done, mf.size);
    return Status::Ok();
  };
  if (!slots.empty())
    FLS_RETURN_IF_ERROR(StagePipeline<ArchiveSlot>::Run(slots, source, {hash, encode, write}));
  slots.clear();
  *sha256 = sha.FinishHex();
  return Status::Ok();
}

// The chunks made durable and visible: every file fsynced (in parallel),
// renamed to its final name, then each target directory fsynced. The
// manifest written after this is the object's commit point.
Status CommitChunks(Env* env, Manifest* mf, const std::vector<std::uint32_t>& sums,
                    ThreadPool& io_pool, ChunkWriters* writers) {
  const int n = mf->k + mf->m;
  {
    std::vector<Status> statuses(n);
    io_pool.Run(n, [&](std::size_t i) { statuses[i] = writers->files[i]->SyncAndClose(); });
    for (int i = 0; i < n; ++i)
      if (!statuses[i].ok())
        return statuses[i].WithContext("chunk " + std::to_string(i) + " on target " +
                                       mf->chunks[i].target);
  }
  for (int i = 0; i < n; ++i) {
    mf->chunks[i].crc32c = sums[i];
    mf->chunks[i].bytes = writers->files[i]->bytes();
    Status s = env->RenameFile(writers->temp_paths[i], writers->final_paths[i]);
    if (!s.ok())
      return s.WithContext("chunk " + std::to_string(i) + " on target " + mf->chunks[i].target);
    writers->renamed.push_back(writers->final_paths[i]);
  }
  {
    std::set<std::string> dirs;
    for (const ManifestChunk& c : mf->chunks) dirs.insert(c.target);
    for (const std::string& d : dirs) {
      Status s = env->SyncDir(d);
      if (!s.ok()) return s.WithContext("target " + d);
    }
  }
  return Status::Ok();
}

// Chooses the targets of the k + m chunks (distinct failure domains first)
// and fills mf->chunks.
Status PlaceObject(const Store& store, const ArchiveOptions& opt, std::uint64_t chunk_file_bytes,
                   Manifest* mf, FaultTolerance* tolerance) {
  const int n = mf->k + mf->m;
  std::vector<int> placement;
  std::uint64_t spread = 0;  // the id is random: objects start at different targets
  std::memcpy(&spread, mf->id.data(), sizeof spread);
  FLS_RETURN_IF_ERROR(
      store.PlaceChunks(n, chunk_file_bytes, opt.allow_shared_targets, spread, &placement));
  std::vector<std::string> tnames, tdomains;
  for (int i = 0; i < n; ++i) {
    const Target& t = store.targets()[placement[i]];
    ManifestChunk c;
    c.index = i;
    c.target = t.path;
    c.domain = t.domain;
    c.target_id = store.TargetId(placement[i]);
    c.file = ChunkFileName(mf->id, i);
    mf->chunks.push_back(c);
    tnames.push_back(t.path);
    tdomains.push_back(t.domain);
  }
  *tolerance = ToleranceOf(tnames, tdomains, mf->m);
  return Status::Ok();
}

// Whether `name` is archived already (an object or a packed file): Ok with
// *done set when it is, with this content (result filled); NotFound-free
// errors otherwise.
Status CheckNameFree(const Store& store, const RandomAccessFile& input, const FileInfo& info,
                     const ArchiveOptions& opt, const std::string& name, ArchiveResult* result,
                     bool* done, CatalogEntry* tombstone) {
  *done = false;
  CatalogEntry existing;
  std::string holder;
  Status found = store.FindObject(name, &existing, &holder);
  if (found.code() == Status::Code::kNotFound && existing.manifest.tombstone)
    *tombstone = std::move(existing);  // deleted: the new object outranks the tombstone
  if (found.ok()) {
    *done = true;
    return CheckExisting(input, info, opt, existing, result);
  }
  if (found.code() != Status::Code::kNotFound)
    return found.WithContext("checking whether '" + name + "' is archived already");
  MemberEntry member;
  Status packed = FindMember(store, name, &member);
  if (packed.ok()) {
    *done = true;
    return CheckExistingMember(input, info, opt, member, result);
  }
  if (packed.code() != Status::Code::kNotFound)
    return packed.WithContext("checking whether '" + name + "' is archived already");
  if (!holder.empty())
    return Status::InvalidArgument("the name '" + name + "' has the same manifest file (" +
                                   NameManifestFileName(name) + ") as the object '" + holder +
                                   "' (a SHA-256 collision): choose another --name");
  return Status::Ok();
}

}  // namespace

namespace internal {

Status QuickCheck(const RandomAccessFile& input, const FileInfo& info, bool compare_checksum,
                  const ArchivedContent& archived) {
  bool same = info.size == archived.size;
  std::string differs = "size";
  if (same && compare_checksum) {
    std::string sha;
    FLS_RETURN_IF_ERROR(Sha256OfFile(input, &sha));
    same = sha == archived.sha256;
    differs = "SHA-256";
  } else if (same) {
    same = info.mtime_ns == archived.mtime_ns && info.mode == archived.mode;
    differs = "modification time or mode";
  }
  if (same) return Status::Ok();
  return Status::InvalidArgument(
      "'" + archived.name + "' is already archived with other content (" + differs +
      " differs from " + input.path() + ")" + archived.where + "; archive it under another --name");
}

}  // namespace internal

Status ArchiveFile(const Store& store, const std::string& path, const ArchiveOptions& opt,
                   ArchiveResult* result) {
  Env* env = store.env();
  FileInfo info;
  FLS_RETURN_IF_ERROR(env->GetFileInfo(path, &info));
  if (info.is_directory) return Status::InvalidArgument(path + " is a directory, not a file");
  std::unique_ptr<RandomAccessFile> src;
  FLS_RETURN_IF_ERROR(env->NewRandomAccessFile(path, &src));
  return ArchiveOpenFile(store, *src, info, opt, result);
}

Status ArchiveOpenFile(const Store& store, const RandomAccessFile& input, const FileInfo& info,
                       const ArchiveOptions& opt, ArchiveResult* result) {
  Env* env = store.env();
  const std::string& path = input.path();
  FLS_RETURN_IF_ERROR(ValidateCodecShape(opt.k, opt.m));
  if (opt.stripe_width == 0) return Status::InvalidArgument("--stripe must be at least 1 byte");
  const int k = opt.k, m = opt.m, n = k + m;
  const std::uint64_t B = (opt.stripe_width + k - 1) / k;
  if (B > (std::uint64_t{1} << 30))
    return Status::InvalidArgument("--stripe too large (1 GiB blocks at most)");
  if (info.is_directory) return Status::InvalidArgument(path + " is a directory, not a file");
  Manifest mf;
  mf.name = opt.name.empty() ? BaseName(path) : opt.name;
  FLS_RETURN_IF_ERROR(ValidateObjectName(mf.name));
  // The targets get their identities before anything names them.
  FLS_RETURN_IF_ERROR(store.Join());
  // An upgrade (opt.replaces_path_addressed) checked the name itself.
  bool archived = false;
  CatalogEntry tombstone;
  if (!opt.replaces_path_addressed)
    FLS_RETURN_IF_ERROR(
        CheckNameFree(store, input, info, opt, mf.name, result, &archived, &tombstone));
  if (archived) return Status::Ok();
  if (tombstone.manifest.tombstone)
    mf.generation = std::max(tombstone.manifest.generation, tombstone.max_generation) + 1;
  mf.retain_until_ns = opt.retain_until_ns;
  mf.id = opt.object_id ? *opt.object_id : RandomObjectId();
  mf.k = k;
  mf.m = m;
  mf.matrix = opt.matrix;
  mf.stripe_width = B * k;
  mf.block_size = B;
  mf.size = info.size;
  const StripeGeometry g = StripeGeometry::Sized(k, B, info.size);
  mf.stripes = g.stripes();
  mf.last_block_size = g.last_block();
  mf.mode = info.mode;
  mf.mtime_ns = info.mtime_ns;

  std::shared_ptr<Backend> backend;
  FLS_RETURN_IF_ERROR(SharedOrNewBackend(opt.backend_instance, opt.backend, opt.threads, k, m,
                                         opt.matrix, &backend));
  FaultTolerance tol;
  FLS_RETURN_IF_ERROR(PlaceObject(store, opt, g.chunk_file_bytes(), &mf, &tol));
  ChunkWriters writers(env);
  FLS_RETURN_IF_ERROR(OpenChunkWriters(env, mf, &writers));
  ThreadPool io_pool(std::min(n, 4));
  std::vector<std::uint32_t> sums;
  FLS_RETURN_IF_ERROR(
      EncodeIntoChunks(input, mf, g, backend.get(), opt, io_pool, writers, &sums, &mf.sha256));
  FLS_RETURN_IF_ERROR(CommitChunks(env, &mf, sums, io_pool, &writers));
  internal::ChooseManifestTargets(store, &mf);
  if (mf.manifest_targets.empty())
    return Status::IOError("no target directory is left to hold a manifest copy of '" + mf.name +
                           "'");
  FLS_RETURN_IF_ERROR(ValidateManifest(mf));
  std::vector<std::string> written;
  FLS_RETURN_IF_ERROR(internal::CommitManifest(
      env, mf, &written,
      tombstone.manifest.tombstone ? EncodeManifest(tombstone.manifest) : std::string()));
  writers.committed = true;
  // Tombstone copies on targets the new object's copies did not replace.
  if (tombstone.manifest.tombstone) internal::RemoveSupersededCopies(env, tombstone, written);
  if (result) {
    *result = ArchiveResult{};
    result->manifest = mf;
    result->target_failures_tolerated = tol.targets;
    result->domain_failures_tolerated = tol.domains;
    result->backend = std::string(backend->name());
  }
  return Status::Ok();
}

}  // namespace fls
