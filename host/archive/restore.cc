// RestoreObject (fls/archive.h): an object, or a packed file (fls/pack.h)
// as the range of its pack, written beside the output and renamed into
// place once its SHA-256 checks out.
#include "fls/archive.h"
#include "fls/backend_registry.h"
#include "fls/pack.h"
#include "fls/sha256.h"
#include "object_io.h"

namespace fls {

using internal::BufferedAppender;

Status RestoreObject(const Store& store, const std::string& name, const RestoreOptions& opt,
                     RestoreResult* result) {
  Env* env = store.env();
  if (opt.output.empty()) return Status::InvalidArgument("no output path given");
  Located found;
  if (opt.entry == nullptr)
    FLS_RETURN_IF_ERROR(LocateName(store, name, &found));
  else if (opt.entry->manifest.name == name)
    found.object = *opt.entry;
  else
    return Status::InvalidArgument("restoring '" + name + "' with the catalogue entry of '" +
                                   opt.entry->manifest.name + "'");
  const Manifest& mf = found.object.manifest;
  // What the name's bytes are: the whole object, or a packed file's range
  // of its pack, with that file's own digest, mode and mtime.
  const std::uint64_t base = found.member ? found.packed.offset : 0;
  const std::uint64_t size = found.member ? found.packed.length : mf.size;
  const std::string& want_sha = found.member ? found.packed.sha256 : mf.sha256;
  const std::uint32_t mode = found.member ? found.packed.mode : mf.mode;
  const std::int64_t mtime_ns = found.member ? found.packed.mtime_ns : mf.mtime_ns;
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
  internal::ObjectReader reader(store, mf);
  reader.Open();

  // A restore killed earlier left its temporary here; only this restore
  // would ever look at it. Failing to remove it is not this restore's error.
  RemoveDeadWritersTempsIn(dir, out_name, nullptr);
  const std::string tmp = BaseName(TempPathFor(out_name));
  std::unique_ptr<WritableFile> f;
  FLS_RETURN_IF_ERROR(dir->NewWritableFile(tmp, &f));
  BufferedAppender out(std::move(f), false);
  Sha256 sha;
  const bool whole = !opt.has_range;
  internal::StreamStats stats;
  Status s = internal::StreamObject(
      reader, *backend, base + begin, base + end,
      whole ? std::function<Status(const std::uint8_t*, std::size_t)>(
                  [&](const std::uint8_t* p, std::size_t len) {
                    sha.Update(p, len);
                    return Status::Ok();
                  })
            : nullptr,
      [&](const std::uint8_t* p, std::size_t len) { return out.Append(p, len); }, opt.progress,
      &stats);
  if (s.ok() && whole) {
    const std::string digest = sha.FinishHex();
    if (digest != want_sha)
      s = Status::Corruption("object '" + name + "': SHA-256 of the restored bytes " + digest +
                             " differs from the " +
                             (found.member ? "member record's " : "manifest's ") + want_sha);
  }
  if (s.ok() && whole) s = out.SetModeAndTime(mode, mtime_ns);
  if (s.ok()) s = out.SyncAndClose();
  if (s.ok()) s = dir->RenameFile(tmp, out_name);
  if (!s.ok()) {
    dir->RemoveFile(tmp);
    return s;
  }
  FLS_RETURN_IF_ERROR(dir->Sync());
  if (result) {
    result->bytes = end - begin;
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

}  // namespace fls
