// PosixEnv and the Env helpers.
#include "fls/env.h"

#include "posix_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>

namespace fls {

Status PosixError(std::string_view op, const std::string& path, int err) {
  std::string msg = std::string(op) + " " + path + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return Status::NoSpace(std::move(msg));
  if (err == ENOENT) return Status::NotFound(std::move(msg));
  return Status::IOError(std::move(msg));
}

std::string DirName(const std::string& path) {
  const auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string BaseName(const std::string& path) {
  const auto pos = path.find_last_of('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

namespace {

// 32-bit FNV-1a of the host name: temporaries carry it so that cleanup on a
// target shared by several hosts only judges the pids of its own host.
std::uint32_t HostTag() {
  static const std::uint32_t tag = [] {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) return 0u;
    std::uint32_t h = 2166136261u;
    for (const char* p = name; *p; ++p) h = (h ^ static_cast<unsigned char>(*p)) * 16777619u;
    return h;
  }();
  return tag;
}

}  // namespace

std::string TempPathFor(const std::string& final_path) {
  static std::atomic<std::uint64_t> counter{0};
  static const std::uint64_t salt = std::random_device{}();
  const std::uint64_t n = counter.fetch_add(1);
  char suffix[80];
  std::snprintf(suffix, sizeof suffix, ".tmp-%d-h%08x-%llx-%llu", static_cast<int>(getpid()),
                static_cast<unsigned>(HostTag()), static_cast<unsigned long long>(salt & 0xffffff),
                static_cast<unsigned long long>(n));
  return JoinPath(DirName(final_path), "." + BaseName(final_path) + suffix);
}

bool IsTempName(std::string_view name) {
  return !name.empty() && name[0] == '.' && name.find(".tmp-") != std::string_view::npos;
}

namespace {

class PosixEnv final : public Env {
 public:
  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* file) override {
    // O_NOFOLLOW: the names written here are fls's own temporaries; a
    // symbolic link planted under one must fail, never redirect the write.
    const int fd =
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError("create", path, errno);
    *file = internal::NewPosixWritableFile(path, fd);
    return Status::Ok();
  }
  Status NewRandomAccessFile(const std::string& path,
                             std::unique_ptr<RandomAccessFile>* file) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("open", path, errno);
    *file = internal::NewPosixRandomAccessFile(path, fd);
    return Status::Ok();
  }
  Status GetFileInfo(const std::string& path, FileInfo* info) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat", path, errno);
    internal::FillFileInfo(st, info);
    return Status::Ok();
  }
  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    names->clear();
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return PosixError("list", dir, errno);
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      names->emplace_back(e->d_name);
    }
    ::closedir(d);
    return Status::Ok();
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return PosixError("rename", from + " -> " + to, errno);
    return Status::Ok();
  }
  Status ForEachChild(const std::string& dir,
                      const std::function<bool(std::string_view)>& fn) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return PosixError("list", dir, errno);
    int err = 0;
    for (;;) {
      errno = 0;
      struct dirent* e = ::readdir(d);
      if (e == nullptr) {
        err = errno;  // 0 at the end of the directory
        break;
      }
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      if (!fn(e->d_name)) break;
    }
    ::closedir(d);
    if (err != 0) return PosixError("list", dir, err);
    return Status::Ok();
  }
  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError("remove", path, errno);
    return Status::Ok();
  }
  Status LinkFile(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) != 0) return PosixError("link", from + " -> " + to, errno);
    return Status::Ok();
  }
  Status CreateDirs(const std::string& dir) override {
    if (dir.empty()) return Status::Ok();
    struct stat st;
    if (::stat(dir.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) return Status::Ok();
      return Status::IOError("mkdir " + dir + ": exists and is not a directory");
    }
    const std::string parent = DirName(dir);
    if (parent != dir) FLS_RETURN_IF_ERROR(CreateDirs(parent));
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return PosixError("mkdir", dir, errno);
    return Status::Ok();
  }
  Status SyncDir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError("open directory", dir, errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return PosixError("fsync directory", dir, err);
    return Status::Ok();
  }
  Status GetFreeSpace(const std::string& path, std::uint64_t* bytes) override {
    struct statvfs vfs;
    if (::statvfs(path.c_str(), &vfs) != 0) return PosixError("statvfs", path, errno);
    *bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    return Status::Ok();
  }
  Status SetFileModeAndTime(const std::string& path, std::uint32_t mode,
                            std::int64_t mtime_ns) override {
    if (::chmod(path.c_str(), mode & 07777) != 0) return PosixError("chmod", path, errno);
    struct timespec times[2];
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;
    times[1].tv_sec = mtime_ns / 1000000000;
    times[1].tv_nsec = mtime_ns % 1000000000;
    if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0)
      return PosixError("utimensat", path, errno);
    return Status::Ok();
  }
  Status NewRandomAccessFileNoFollow(const std::string& path,
                                     std::unique_ptr<RandomAccessFile>* file,
                                     FileInfo* info) override {
    // O_NONBLOCK | O_NOCTTY: a FIFO or device planted here returns at once
    // and is refused below; reads of a regular file ignore O_NONBLOCK.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ELOOP)
        return Status::InvalidArgument("'" + path + "' is a symbolic link, not a regular file");
      return PosixError("open", path, errno);
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return PosixError("fstat", path, err);
    }
    FileInfo got;
    internal::FillFileInfo(st, &got);
    if (got.type != FileType::kRegular) {
      ::close(fd);
      return Status::InvalidArgument("'" + path + "' is a " + FileTypeName(got.type) +
                                     ", not a regular file");
    }
    if (info != nullptr) *info = got;
    *file = internal::NewPosixRandomAccessFile(path, fd);
    return Status::Ok();
  }
  Status OpenDirectory(const std::string& path, std::unique_ptr<Directory>* dir) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError("open directory", path, errno);
    *dir = internal::NewPosixDirectory(path, fd);
    return Status::Ok();
  }
};

}  // namespace

Status Env::ForEachChild(const std::string& dir, const std::function<bool(std::string_view)>& fn) {
  std::vector<std::string> names;
  FLS_RETURN_IF_ERROR(GetChildren(dir, &names));
  for (const std::string& n : names)
    if (!fn(n)) break;
  return Status::Ok();
}

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();
  return env;
}

Status WritableFile::SetModeAndTime(std::uint32_t, std::int64_t) {
  return Status::IOError("chmod " + path() + ": not supported by this kind of file");
}

const char* FileTypeName(FileType type) {
  switch (type) {
    case FileType::kRegular:
      return "regular file";
    case FileType::kDirectory:
      return "directory";
    case FileType::kSymlink:
      return "symbolic link";
    case FileType::kFifo:
      return "FIFO";
    case FileType::kSocket:
      return "socket";
    case FileType::kCharDevice:
      return "character device";
    case FileType::kBlockDevice:
      return "block device";
  }
  return "?";
}

Status WriteFileDurably(Env* env, const std::string& path, std::string_view data) {
  const std::string tmp = TempPathFor(path);
  std::unique_ptr<WritableFile> f;
  Status s = env->NewWritableFile(tmp, &f);
  if (s.ok()) s = f->Append(data.data(), data.size());
  if (s.ok()) s = f->Sync();
  if (s.ok()) s = f->Close();
  f.reset();
  if (s.ok()) s = env->RenameFile(tmp, path);
  if (!s.ok()) {
    env->RemoveFile(tmp);  // best effort: the temporary must not linger
    return s;
  }
  return env->SyncDir(DirName(path));
}

Status ReadWholeFile(Env* env, const std::string& path, std::string* data, std::size_t max_bytes) {
  FileInfo info;
  FLS_RETURN_IF_ERROR(env->GetFileInfo(path, &info));
  if (info.size > max_bytes)
    return Status::Corruption(path + ": " + std::to_string(info.size) + " bytes, more than the " +
                              std::to_string(max_bytes) + " expected at most");
  std::unique_ptr<RandomAccessFile> f;
  FLS_RETURN_IF_ERROR(env->NewRandomAccessFile(path, &f));
  data->resize(info.size);
  std::size_t got = 0;
  FLS_RETURN_IF_ERROR(f->Read(0, data->size(), data->data(), &got));
  data->resize(got);
  return Status::Ok();
}

Status OpenParentNoFollow(Env* env, const std::string& path, std::unique_ptr<Directory>* dir,
                          std::string* name) {
  if (path.empty()) return Status::InvalidArgument("empty output path");
  std::filesystem::path p(path);
  if (p.is_relative()) {
    std::error_code ec;
    const std::filesystem::path cwd = std::filesystem::current_path(ec);
    if (ec) return Status::IOError("getcwd: " + ec.message());
    p = cwd / p;
  }
  p = p.lexically_normal();
  const std::string full = p.string();
  if (full.empty() || full.back() == '/')
    return Status::InvalidArgument("'" + path + "' names a directory, not a file");
  *name = BaseName(full);
  std::unique_ptr<Directory> root;
  FLS_RETURN_IF_ERROR(env->OpenDirectory("/", &root));
  const std::string parent = DirName(full);
  return root->OpenDirectory(parent == "/" ? "" : parent.substr(1), false, dir);
}

Status ReadWholeFile(Directory* dir, const std::string& rel, std::string* data,
                     std::size_t max_bytes) {
  FileInfo info;
  std::unique_ptr<RandomAccessFile> f;
  FLS_RETURN_IF_ERROR(dir->NewRandomAccessFile(rel, &f, &info));
  if (info.size > max_bytes)
    return Status::Corruption(f->path() + ": " + std::to_string(info.size) +
                              " bytes, more than the " + std::to_string(max_bytes) +
                              " expected at most");
  data->resize(info.size);
  std::size_t got = 0;
  FLS_RETURN_IF_ERROR(f->Read(0, data->size(), data->data(), &got));
  data->resize(got);
  return Status::Ok();
}

bool TempWriterIsGone(std::string_view name) {
  const auto at = name.rfind(".tmp-");
  if (!IsTempName(name) || at == std::string_view::npos) return false;
  std::string_view rest = name.substr(at + 5);
  long long pid = 0;
  std::size_t i = 0;
  for (; i < rest.size() && i < 10 && rest[i] >= '0' && rest[i] <= '9'; ++i)
    pid = pid * 10 + (rest[i] - '0');
  if (i == 0 || pid <= 0 || pid > 0x7fffffff) return false;
  // Only the new form "-h<8 hex host tag>-" names its host; without it the
  // pid may belong to another host sharing the target.
  if (rest.size() < i + 11 || rest.substr(i, 2) != "-h" || rest[i + 10] != '-') return false;
  char tag[9] = {};
  rest.copy(tag, 8, i + 2);
  char* end = nullptr;
  const unsigned long t = std::strtoul(tag, &end, 16);
  if (end != tag + 8 || t != HostTag()) return false;
  if (static_cast<pid_t>(pid) == ::getpid()) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

Status RemoveStaleTempFiles(Env* env, const std::string& dir, std::int64_t min_idle_ns,
                            std::vector<std::string>* removed) {
  std::vector<std::string> names;
  FLS_RETURN_IF_ERROR(env->GetChildren(dir, &names));
  const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  Status first_error;
  for (const std::string& name : names) {
    if (!IsTempName(name)) continue;
    const std::string path = JoinPath(dir, name);
    bool stale = TempWriterIsGone(name);
    if (!stale) {
      FileInfo info;
      if (!env->GetFileInfo(path, &info).ok() || info.is_directory) continue;
      stale = now_ns - info.mtime_ns >= min_idle_ns;
    }
    if (!stale) continue;
    Status s = env->RemoveFile(path);
    if (s.ok()) {
      if (removed != nullptr) removed->push_back(path);
    } else if (s.code() != Status::Code::kNotFound && first_error.ok()) {
      first_error = s;  // keep going: clean what can be cleaned
    }
  }
  return first_error;
}

Status RemoveDeadWritersTempsFor(Env* env, const std::string& final_path,
                                 std::vector<std::string>* removed) {
  const std::string dir = DirName(final_path);
  const std::string prefix = "." + BaseName(final_path) + ".tmp-";
  std::vector<std::string> names;
  Status s = env->GetChildren(dir, &names);
  if (s.code() == Status::Code::kNotFound) return Status::Ok();
  FLS_RETURN_IF_ERROR(s);
  Status first_error;
  for (const std::string& name : names) {
    if (name.rfind(prefix, 0) != 0 || !TempWriterIsGone(name)) continue;
    const std::string path = JoinPath(dir, name);
    Status r = env->RemoveFile(path);
    if (r.ok()) {
      if (removed != nullptr) removed->push_back(path);
    } else if (r.code() != Status::Code::kNotFound && first_error.ok()) {
      first_error = r;
    }
  }
  return first_error;
}

Status RemoveDeadWritersTempsIn(Directory* dir, const std::string& name,
                                std::vector<std::string>* removed) {
  const std::string prefix = "." + name + ".tmp-";
  std::vector<std::string> names;
  FLS_RETURN_IF_ERROR(dir->GetChildren(&names));
  Status first_error;
  for (const std::string& n : names) {
    if (n.rfind(prefix, 0) != 0 || !TempWriterIsGone(n)) continue;
    Status r = dir->RemoveFile(n);
    if (r.ok()) {
      if (removed != nullptr) removed->push_back(JoinPath(dir->path(), n));
    } else if (r.code() != Status::Code::kNotFound && first_error.ok()) {
      first_error = r;
    }
  }
  return first_error;
}

}  // namespace fls
