// PosixDirectory (host/posix_file.h): a Directory over an open descriptor,
// every name resolved below it by host/beneath.h.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "beneath.h"
#include "posix_file.h"

namespace fls::internal {
namespace {

// A single name of this directory (what creation, rename and removal take).
Status CheckName(const std::string& dir, const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    return Status::InvalidArgument("'" + name + "' is not a plain name of a file in " + dir);
  return Status::Ok();
}

// Descriptors opened here are closed on every path out of a function.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

class PosixDirectory final : public Directory {
 public:
  PosixDirectory(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixDirectory() override { ::close(fd_); }

  const std::string& path() const override { return path_; }

  Status OpenDirectory(const std::string& rel, bool create,
                       std::unique_ptr<Directory>* dir) override {
    const int fd = beneath::OpenDirBeneath(fd_, rel, create);
    if (fd < 0) return Error(create ? "create directory" : "open directory", rel, errno);
    *dir = NewPosixDirectory(JoinPath(path_, rel), fd);
    return Status::Ok();
  }

  Status NewRandomAccessFile(const std::string& rel, std::unique_ptr<RandomAccessFile>* file,
                             FileInfo* info) override {
    std::string parent, name;
    FLS_RETURN_IF_ERROR(SplitLast(rel, &parent, &name));
    Fd dir(parent.empty() ? -1 : beneath::OpenBeneath(fd_, parent, O_PATH | O_DIRECTORY));
    if (!parent.empty() && dir.get() < 0) return Error("open", rel, errno);
    const int at = parent.empty() ? fd_ : dir.get();
    // Look before opening: a device file is never opened at all (opening
    // one can have effects), a FIFO or socket is named for what it is.
    struct stat st;
    if (::fstatat(at, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return Error("open", rel, errno);
    FLS_RETURN_IF_ERROR(RequireRegular(rel, st));
    // O_NONBLOCK | O_NOCTTY: should a FIFO or device be swapped in after the
    // look, the open returns at once and the fstat below refuses it.
    Fd fd(beneath::OpenBeneath(at, name, O_RDONLY | O_NONBLOCK | O_NOCTTY));
    if (fd.get() < 0) return Error("open", rel, errno);
    if (::fstat(fd.get(), &st) != 0) return Error("fstat", rel, errno);
    FLS_RETURN_IF_ERROR(RequireRegular(rel, st));
    // O_NONBLOCK stays: reads of a regular file ignore it.
    if (info != nullptr) FillFileInfo(st, info);
    *file = NewPosixRandomAccessFile(JoinPath(path_, rel), fd.release());
    return Status::Ok();
  }

  Status NewWritableFile(const std::string& name, std::unique_ptr<WritableFile>* file) override {
    FLS_RETURN_IF_ERROR(CheckName(path_, name));
    const int fd =
        ::openat(fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return Error("create", name, errno);
    *file = NewPosixWritableFile(JoinPath(path_, name), fd);
    return Status::Ok();
  }

  Status GetFileInfo(const std::string& rel, FileInfo* info) override {
    std::string parent, name;
    struct stat st;
    std::vector<std::string> parts;
    if (!beneath::SplitRelative(rel, &parts)) return Error("stat", rel, errno);
    if (parts.empty()) {
      if (::fstat(fd_, &st) != 0) return Error("stat", rel, errno);
      FillFileInfo(st, info);
      return Status::Ok();
    }
    FLS_RETURN_IF_ERROR(SplitLast(rel, &parent, &name));
    Fd dir(parent.empty() ? -1 : beneath::OpenBeneath(fd_, parent, O_PATH | O_DIRECTORY));
    if (!parent.empty() && dir.get() < 0) return Error("stat", rel, errno);
    if (::fstatat(parent.empty() ? fd_ : dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return Error("stat", rel, errno);
    FillFileInfo(st, info);
    return Status::Ok();
  }

  Status GetChildren(std::vector<std::string>* names) override {
    names->clear();
    // A descriptor of its own: a dup would share the read offset with fd_
    // and with concurrent listings.
    const int fd = ::openat(fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Error("list", "", errno);
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      const int err = errno;
      ::close(fd);
      return Error("list", "", err);
    }
    errno = 0;
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        names->emplace_back(e->d_name);
      errno = 0;
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return Error("list", "", err);
    return Status::Ok();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    FLS_RETURN_IF_ERROR(CheckName(path_, from));
    FLS_RETURN_IF_ERROR(CheckName(path_, to));
    if (::renameat(fd_, from.c_str(), fd_, to.c_str()) != 0)
      return Error("rename", from + " -> " + to, errno);
    return Status::Ok();
  }

  Status RemoveFile(const std::string& name) override {
    FLS_RETURN_IF_ERROR(CheckName(path_, name));
    if (::unlinkat(fd_, name.c_str(), 0) != 0) return Error("remove", name, errno);
    return Status::Ok();
  }

  Status RemoveDir(const std::string& name) override {
    FLS_RETURN_IF_ERROR(CheckName(path_, name));
    if (::unlinkat(fd_, name.c_str(), AT_REMOVEDIR) != 0)
      return Error("remove directory", name, errno);
    return Status::Ok();
  }

  Status Sync() override {
    if (::fsync(fd_) != 0) return PosixError("fsync directory", path_, errno);
    return Status::Ok();
  }

 private:
  // A link on the way or a name leading out is the caller's mistake (or an
  // attack), not an I/O failure: InvalidArgument saying which.
  Status Error(const char* op, const std::string& rel, int err) const {
    const std::string where = rel.empty() ? path_ : JoinPath(path_, rel);
    if (err == ELOOP || err == EXDEV)
      return Status::InvalidArgument(std::string(op) + " " + where + ": " +
                                     beneath::ExplainErrno(err));
    return PosixError(op, where, err);
  }

  Status RequireRegular(const std::string& rel, const struct stat& st) const {
    if (S_ISREG(st.st_mode)) return Status::Ok();
    FileInfo info;
    FillFileInfo(st, &info);
    return Status::InvalidArgument("'" + JoinPath(path_, rel) + "' is a " +
                                   FileTypeName(info.type) + ", not a regular file");
  }

  // "a/b/c" -> "a/b", "c"; InvalidArgument when nothing names a file.
  Status SplitLast(const std::string& rel, std::string* parent, std::string* name) const {
    std::vector<std::string> parts;
    if (!beneath::SplitRelative(rel, &parts)) return Error("open", rel, errno);
    if (parts.empty())
      return Status::InvalidArgument("'" + JoinPath(path_, rel) + "' names a directory");
    *name = parts.back();
    parent->clear();
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
      if (!parent->empty()) *parent += '/';
      *parent += parts[i];
    }
    return Status::Ok();
  }

  std::string path_;
  int fd_;
};

}  // namespace

std::unique_ptr<Directory> NewPosixDirectory(std::string path, int fd) {
  return std::make_unique<PosixDirectory>(std::move(path), fd);
}

}  // namespace fls::internal
