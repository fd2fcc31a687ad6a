// ReadObject and RestoreObject (fls/archive.h): an object, or a packed file
// (fls/pack.h) as the range of its pack, streamed to a byte sink; a restore's
// sink is a temporary beside the output, renamed into place once the SHA-256
// checks out.
#include "fls/archive.h"
#include "fls/backend_registry.h"
#include "fls/pack.h"
#include "fls/sha256.h"
#include "object_io.h"

namespace fls {

using internal::BufferedAppender;

namespace {

// The name found, and what its bytes are: the whole object, or a packed
// file's range of its pack with that file's own digest, mode and mtime.
Status Locate(const Store& store, const std::string& name, const RestoreOptions& opt,
              Located* found) {
  if (opt.entry == nullptr) return LocateName(store, name, found);
  if (opt.entry->manifest.name != name)
    return Status::InvalidArgument("restoring '" + name + "' with the catalogue entry of '" +
                                   opt.entry->manifest.name + "'");
  found->object = *opt.entry;
  return Status::Ok();
}

Status ReadLocated(const Store& store, const std::string& name, const Located& found,
                   const RestoreOptions& opt, const ByteSink& sink, RestoreResult* result) {
  const Manifest& mf = found.object.manifest;
  const std::uint64_t base = found.member ? found.packed.offset : 0;
  const std::uint64_t size = found.member ? found.packed.length : mf.size;
  const std::string& want_sha = found.member ? found.packed.sha256 : mf.sha256;
  std::uint64_t begin = 0, end = size;
  if (opt.has_range) {
    if (opt.offset > size || opt.length > size - opt.offset)
      return Status::InvalidArgument("--range " + std::to_string(opt.offset) + ":" +
                                     std::to_string(opt.length) + " is outside object '" + name +
                                     "' of " + std::to_string(size) + " bytes");
    begin = opt.offset;
    end = opt.offset + opt.length;
  }
  std::shared_ptr<Backend> backend;
  FLS_RETURN_IF_ERROR(SharedOrNewBackend(opt.backend_instance, opt.backend, opt.threads, mf.k, mf.m,
                                         mf.matrix, &backend));
  internal::ObjectReader reader(store, mf);
  reader.Open();
  Sha256 sha;
  const bool whole = !opt.has_range;
  internal::StreamStats stats;
  FLS_RETURN_IF_ERROR(
      internal::StreamObject(reader, *backend, base + begin, base + end,
                             whole ? ByteSink([&](const std::uint8_t* p, std::size_t len) {
                               sha.Update(p, len);
                               return Status::Ok();
                             })
                                   : nullptr,
                             sink, opt.progress, &stats));
  if (whole) {
    const std::string digest = sha.FinishHex();
    if (digest != want_sha)
      return Status::Corruption("object '" + name + "': SHA-256 of the restored bytes " + digest +
                                " differs from the " +
                                (found.member ? "member record's " : "manifest's ") + want_sha);
  }
  if (result) {
    *result = RestoreResult{};
    result->bytes = end - begin;
    result->size = size;
    result->mode = found.member ? found.packed.mode : mf.mode;
    result->mtime_ns = found.member ? found.packed.mtime_ns : mf.mtime_ns;
    result->stripes_reconstructed = stats.stripes_reconstructed;
    result->sha256_checked = whole;
    for (const auto& c : reader.chunks())
      if (c.report.state != "ok")
        result->problems.push_back(
            "chunk " + std::to_string(c.report.index) + " " + c.report.state +
            (c.report.detail.empty() ? "" : ": " + c.report.detail) + " (" + c.path + ")");
  }
  return Status::Ok();
}

// After a failed read of a packed file: true when its record now names
// another pack (`fls compact` moved it, and may have removed the old pack
// under the read), with *found updated: the read is worth another try.
bool MovedMeanwhile(const Store& store, const std::string& name, const RestoreOptions& opt,
                    Located* found) {
  if (!found->member || opt.entry != nullptr) return false;
  Located again;
  if (!Locate(store, name, opt, &again).ok() || !again.member ||
      again.packed.pack_id == found->packed.pack_id)
    return false;
  *found = std::move(again);
  return true;
}

constexpr int kMovedRetries = 3;

}  // namespace

Status ReadObject(const Store& store, const std::string& name, const RestoreOptions& opt,
                  const ByteSink& sink, RestoreResult* result) {
  Located found;
  FLS_RETURN_IF_ERROR(Locate(store, name, opt, &found));
  for (int attempt = 0;; ++attempt) {
    std::uint64_t passed = 0;
    Status s = ReadLocated(
        store, name, found, opt,
        [&](const std::uint8_t* p, std::size_t len) {
          passed += len;
          return sink(p, len);
        },
        result);
    // Only a read that gave the sink nothing yet can start again.
    if (s.ok() || passed > 0 || attempt == kMovedRetries ||
        !MovedMeanwhile(store, name, opt, &found))
      return s;
  }
}

Status RestoreObject(const Store& store, const std::string& name, const RestoreOptions& opt,
                     RestoreResult* result) {
  Env* env = store.env();
  if (opt.output.empty()) return Status::InvalidArgument("no output path given");
  Located found;
  FLS_RETURN_IF_ERROR(Locate(store, name, opt, &found));
  // Every step of the write goes through the output directory's
  // descriptor: nothing re-resolves the output's path after this.
  std::unique_ptr<Directory> opened;
  Directory* dir = opt.output_dir;
  std::string out_name = opt.output;
  if (dir == nullptr) {
    FLS_RETURN_IF_ERROR(env->OpenDirectory(DirName(opt.output), &opened));
    dir = opened.get();
    out_name = BaseName(opt.output);
  }
  {
    FileInfo existing;
    Status e = dir->GetFileInfo(out_name, &existing);
    if (e.ok() && existing.type != FileType::kRegular)
      return Status::InvalidArgument("output " + JoinPath(dir->path(), out_name) + " is a " +
                                     FileTypeName(existing.type) +
                                     "; restore replaces regular files only");
    if (!e.ok() && e.code() != Status::Code::kNotFound) return e;
  }
  // A restore killed earlier left its temporary here; only this restore
  // would ever look at it. Failing to remove it is not this restore's error.
  RemoveDeadWritersTempsIn(dir, out_name, nullptr);
  const std::string tmp = BaseName(TempPathFor(out_name));
  RestoreResult r;
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<WritableFile> f;
    FLS_RETURN_IF_ERROR(dir->NewWritableFile(tmp, &f));
    BufferedAppender out(std::move(f), false);
    Status s = ReadLocated(
        store, name, found, opt,
        [&](const std::uint8_t* p, std::size_t len) { return out.Append(p, len); }, &r);
    if (s.ok() && r.sha256_checked) s = out.SetModeAndTime(r.mode, r.mtime_ns);
    if (s.ok()) s = out.SyncAndClose();
    if (s.ok()) s = dir->RenameFile(tmp, out_name);
    if (s.ok()) break;
    dir->RemoveFile(tmp);
    if (attempt == kMovedRetries || !MovedMeanwhile(store, name, opt, &found)) return s;
  }
  FLS_RETURN_IF_ERROR(dir->Sync());
  if (result) *result = std::move(r);
  return Status::Ok();
}

}  // namespace fls
