#include "confined_io.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "fls/sha256.h"
#include "path_policy.h"

namespace fls::service {

Status CheckSourceFile(const std::string& path, const FileInfo& info) {
  if (info.type == FileType::kSymlink)
    return Status::InvalidArgument("'" + path +
                                   "' is a symbolic link; symbolic links are not followed below "
                                   "a root (name the file it points to instead)");
  if (info.type != FileType::kRegular)
    return Status::InvalidArgument("'" + path + "' is a " + FileTypeName(info.type) +
                                   "; only regular files are archived");
  if (info.links > 1)
    return Status::InvalidArgument("'" + path + "' has " + std::to_string(info.links) +
                                   " hard links; files with several links are refused (one of "
                                   "them may lie outside the source roots)");
  return Status::Ok();
}

RootDirs::RootDirs(Env* env, std::vector<std::string> roots, std::string kind)
    : env_(env), roots_(std::move(roots)), kind_(std::move(kind)) {}

Status RootDirs::Locate(const std::string& path, Directory** root, std::string* rel) {
  std::string r;
  if (!SplitUnderRoot(roots_, path, &r, rel))
    return Status::InvalidArgument("'" + path + "' is outside every " + kind_ + " root");
  std::lock_guard<std::mutex> lock(mu_);
  auto& dir = open_[r];
  if (!dir) FLS_RETURN_IF_ERROR(env_->OpenDirectory(r, &dir).WithContext(kind_ + " root"));
  *root = dir.get();
  return Status::Ok();
}

Status RootDirs::OpenSource(const std::string& path, std::unique_ptr<RandomAccessFile>* file,
                            FileInfo* info) {
  Directory* root = nullptr;
  std::string rel;
  FLS_RETURN_IF_ERROR(Locate(path, &root, &rel));
  FLS_RETURN_IF_ERROR(root->NewRandomAccessFile(rel, file, info));
  Status s = CheckSourceFile(path, *info);
  if (!s.ok()) file->reset();
  return s;
}

Status RootDirs::StatSource(const std::string& path, FileInfo* info) {
  Directory* root = nullptr;
  std::string rel;
  FLS_RETURN_IF_ERROR(Locate(path, &root, &rel));
  FLS_RETURN_IF_ERROR(root->GetFileInfo(rel, info));
  return CheckSourceFile(path, *info);
}

Status RootDirs::OpenDirectory(const std::string& path, bool create,
                               std::unique_ptr<Directory>* dir) {
  Directory* root = nullptr;
  std::string rel;
  FLS_RETURN_IF_ERROR(Locate(path, &root, &rel));
  return root->OpenDirectory(rel, create, dir);
}

Status ScratchDir::Create(Env* env, std::unique_ptr<ScratchDir>* scratch) {
  std::error_code ec;
  std::string tmpl = (std::filesystem::temp_directory_path(ec) /
                      ("fls-service-" + std::to_string(::getpid()) + "-XXXXXX"))
                         .string();
  if (::mkdtemp(tmpl.data()) == nullptr) return PosixError("create scratch directory", tmpl, errno);
  std::unique_ptr<ScratchDir> s(new ScratchDir());
  s->env_ = env;
  s->path_ = tmpl;
  Status st = env->OpenDirectory(tmpl, &s->dir_);
  if (!st.ok()) {
    ::rmdir(tmpl.c_str());
    return st;
  }
  *scratch = std::move(s);
  return Status::Ok();
}

ScratchDir::~ScratchDir() {
  if (!dir_) return;
  std::vector<std::string> names;
  if (dir_->GetChildren(&names).ok())
    for (const auto& n : names) dir_->RemoveFile(n);
  dir_.reset();
  std::unique_ptr<Directory> parent;
  if (env_->OpenDirectory(DirName(path_), &parent).ok()) parent->RemoveDir(BaseName(path_));
}

Status CheckReplaceable(Directory* dir, const std::string& name) {
  FileInfo existing;
  Status s = dir->GetFileInfo(name, &existing);
  if (s.code() == Status::Code::kNotFound) return Status::Ok();
  FLS_RETURN_IF_ERROR(s);
  if (existing.type != FileType::kRegular)
    return Status::InvalidArgument("output " + JoinPath(dir->path(), name) + " is a " +
                                   FileTypeName(existing.type) +
                                   "; restore replaces regular files only");
  return Status::Ok();
}

Status WriteRangeDurably(const RandomAccessFile& in, const RangeCopy& range, Directory* dir,
                         const std::string& name) {
  FLS_RETURN_IF_ERROR(CheckReplaceable(dir, name));
  RemoveDeadWritersTempsIn(dir, name, nullptr);
  const std::string tmp = BaseName(TempPathFor(name));
  std::unique_ptr<WritableFile> w;
  FLS_RETURN_IF_ERROR(dir->NewWritableFile(tmp, &w));
  Sha256 sha;
  std::vector<std::uint8_t> buf(1 << 20);
  Status s;
  for (std::uint64_t done = 0; s.ok() && done < range.length;) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), range.length - done));
    std::size_t got = 0;
    s = in.Read(range.at + done, want, buf.data(), &got);
    if (s.ok() && got != want) s = Status::IOError(range.what + " came back short");
    if (s.ok()) {
      sha.Update(buf.data(), got);
      s = w->Append(buf.data(), got);
    }
    done += got;
  }
  if (s.ok()) {
    const std::string got = sha.FinishHex();
    if (got != range.sha256)
      s = Status::Corruption(range.what + ": SHA-256 " + got + " differs from the expected " +
                             range.sha256);
  }
  if (s.ok()) s = w->SetModeAndTime(range.mode, range.mtime_ns);
  if (s.ok()) s = w->Sync();
  if (s.ok()) s = w->Close();
  w.reset();
  if (s.ok()) s = dir->RenameFile(tmp, name);
  if (!s.ok()) {
    dir->RemoveFile(tmp);
    return s;
  }
  return dir->Sync();
}

}  // namespace fls::service
