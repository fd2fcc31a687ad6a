#include "fls/fault_injection_env.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fls {
namespace {

// Puts back a file a crash would have kept (plain POSIX: the simulated crash
// is not an operation of the code under test).
Status WriteBytes(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return PosixError("restore", path, errno);
  const ssize_t w = ::write(fd, bytes.data(), bytes.size());
  const int err = errno;
  ::close(fd);
  if (w != static_cast<ssize_t>(bytes.size()))
    return PosixError("restore", path, w < 0 ? err : EIO);
  return Status::Ok();
}

const char* OpName(FaultOp op) {
  switch (op) {
    case FaultOp::kWrite:
      return "write";
    case FaultOp::kSync:
      return "fsync";
    case FaultOp::kRename:
      return "rename";
    case FaultOp::kCreate:
      return "create";
    case FaultOp::kRemove:
      return "remove";
    case FaultOp::kSyncDir:
      return "fsync directory";
  }
  return "?";
}

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(FaultInjectionEnv* env, std::unique_ptr<WritableFile> base)
      : env_(env), base_(std::move(base)) {}
  Status Append(const void* data, std::size_t n) override {
    bool short_write = false;
    Status s = env_->MaybeFail(FaultOp::kWrite, path(), &short_write);
    if (!s.ok()) {
      if (short_write && n > 1) {
        const std::size_t half = n / 2;
        if (base_->Append(data, half).ok()) env_->OnAppend(path(), half);
      }
      return s;
    }
    FLS_RETURN_IF_ERROR(base_->Append(data, n));
    env_->OnAppend(path(), n);
    return Status::Ok();
  }
  Status Sync() override {
    bool unused = false;
    FLS_RETURN_IF_ERROR(env_->MaybeFail(FaultOp::kSync, path(), &unused));
    FLS_RETURN_IF_ERROR(base_->Sync());
    env_->OnSync(path());
    return Status::Ok();
  }
  Status Close() override { return base_->Close(); }
  Status SetModeAndTime(std::uint32_t mode, std::int64_t mtime_ns) override {
    return base_->SetModeAndTime(mode, mtime_ns);
  }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionEnv* env_;
  std::unique_ptr<WritableFile> base_;
};

// The directory calls that change something go through the same rules and
// bookkeeping as the path-based ones, under "<directory>/<name>".
class FaultDirectory final : public Directory {
 public:
  FaultDirectory(FaultInjectionEnv* env, std::unique_ptr<Directory> base)
      : env_(env), base_(std::move(base)) {}
  const std::string& path() const override { return base_->path(); }
  Status OpenDirectory(const std::string& rel, bool create,
                       std::unique_ptr<Directory>* dir) override {
    std::unique_ptr<Directory> sub;
    FLS_RETURN_IF_ERROR(base_->OpenDirectory(rel, create, &sub));
    *dir = std::make_unique<FaultDirectory>(env_, std::move(sub));
    return Status::Ok();
  }
  Status NewRandomAccessFile(const std::string& rel, std::unique_ptr<RandomAccessFile>* file,
                             FileInfo* info) override {
    return base_->NewRandomAccessFile(rel, file, info);
  }
  Status NewWritableFile(const std::string& name, std::unique_ptr<WritableFile>* file) override {
    const std::string full = JoinPath(path(), name);
    FLS_RETURN_IF_ERROR(Fail(FaultOp::kCreate, full));
    std::unique_ptr<WritableFile> f;
    FLS_RETURN_IF_ERROR(base_->NewWritableFile(name, &f));
    env_->OnCreate(full);
    *file = std::make_unique<FaultWritableFile>(env_, std::move(f));
    return Status::Ok();
  }
  Status GetFileInfo(const std::string& rel, FileInfo* info) override {
    return base_->GetFileInfo(rel, info);
  }
  Status GetChildren(std::vector<std::string>* names) override { return base_->GetChildren(names); }
  Status RenameFile(const std::string& from, const std::string& to) override {
    FLS_RETURN_IF_ERROR(Fail(FaultOp::kRename, JoinPath(path(), to)));
    // As FaultInjectionEnv::RenameFile: keep what the rename replaces.
    std::string old_bytes;
    const bool replaced = ReadWholeFile(base_.get(), to, &old_bytes, std::size_t{1} << 30).ok();
    FLS_RETURN_IF_ERROR(base_->RenameFile(from, to));
    env_->OnRename(JoinPath(path(), from), JoinPath(path(), to), replaced, std::move(old_bytes));
    return Status::Ok();
  }
  Status RemoveFile(const std::string& name) override {
    FLS_RETURN_IF_ERROR(Fail(FaultOp::kRemove, JoinPath(path(), name)));
    FLS_RETURN_IF_ERROR(base_->RemoveFile(name));
    env_->OnRemove(JoinPath(path(), name));
    return Status::Ok();
  }
  Status RemoveDir(const std::string& name) override {
    FLS_RETURN_IF_ERROR(Fail(FaultOp::kRemove, JoinPath(path(), name)));
    return base_->RemoveDir(name);
  }
  Status Sync() override {
    FLS_RETURN_IF_ERROR(Fail(FaultOp::kSyncDir, path()));
    FLS_RETURN_IF_ERROR(base_->Sync());
    env_->OnSyncDir(path());
    return Status::Ok();
  }

 private:
  Status Fail(FaultOp op, const std::string& path) {
    bool unused = false;
    return env_->MaybeFail(op, path, &unused);
  }
  FaultInjectionEnv* env_;
  std::unique_ptr<Directory> base_;
};

}  // namespace

FaultInjectionEnv::FaultInjectionEnv(Env* base) : EnvWrapper(base) {}
FaultInjectionEnv::~FaultInjectionEnv() = default;

void FaultInjectionEnv::AddRule(const FaultRule& rule) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.push_back({rule});
}

void FaultInjectionEnv::ClearRules() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
}

int FaultInjectionEnv::faults_injected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return injected_;
}

void FaultInjectionEnv::SetCrashPoint(int ops) {
  std::lock_guard<std::mutex> lock(mu_);
  crash_point_ = ops < 0 ? -1 : mutating_ + ops;
}

int FaultInjectionEnv::mutating_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return mutating_;
}

Status FaultInjectionEnv::MaybeFail(FaultOp op, const std::string& path, bool* short_write) {
  std::lock_guard<std::mutex> lock(mu_);
  *short_write = false;
  if (crash_point_ >= 0 && mutating_ >= crash_point_) {
    ++injected_;
    return PosixError(std::string(OpName(op)) + " (after simulated crash)", path, EIO);
  }
  ++mutating_;
  for (Rule& r : rules_) {
    if (r.rule.op != op) continue;
    if (!r.rule.path_contains.empty() && path.find(r.rule.path_contains) == std::string::npos)
      continue;
    if (r.seen++ < r.rule.succeed_first) continue;
    if (r.rule.fail_times >= 0 && r.failed >= r.rule.fail_times) continue;
    ++r.failed;
    ++injected_;
    *short_write = r.rule.short_write;
    return PosixError(std::string(OpName(op)) + " (injected)", path, r.rule.error);
  }
  return Status::Ok();
}

void FaultInjectionEnv::OnAppend(const std::string& path, std::uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  files_[path].size += n;
}

void FaultInjectionEnv::OnSync(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& f = files_[path];
  f.synced = f.size;
}

void FaultInjectionEnv::OnCreate(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  files_[path] = FileState{};
  pending_[DirName(path)].push_back({false, "", path, false, {}});
}

void FaultInjectionEnv::OnRename(const std::string& from, const std::string& to, bool replaced,
                                 std::string old_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(from);
  if (it != files_.end()) {
    files_[to] = it->second;
    files_.erase(from);
  }
  pending_[DirName(to)].push_back({true, from, to, replaced, std::move(old_bytes)});
}

void FaultInjectionEnv::OnRemove(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  files_.erase(path);
}

void FaultInjectionEnv::OnSyncDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.erase(dir);
}

Status FaultInjectionEnv::NewWritableFile(const std::string& path,
                                          std::unique_ptr<WritableFile>* file) {
  bool unused = false;
  FLS_RETURN_IF_ERROR(MaybeFail(FaultOp::kCreate, path, &unused));
  std::unique_ptr<WritableFile> base;
  FLS_RETURN_IF_ERROR(target()->NewWritableFile(path, &base));
  OnCreate(path);
  *file = std::make_unique<FaultWritableFile>(this, std::move(base));
  return Status::Ok();
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  bool unused = false;
  FLS_RETURN_IF_ERROR(MaybeFail(FaultOp::kRename, to, &unused));
  // A crash before the directory is synced brings back the file this rename
  // replaces (its bytes are kept until then; test files are small).
  std::string old_bytes;
  const bool replaced = ReadWholeFile(target(), to, &old_bytes, std::size_t{1} << 30).ok();
  FLS_RETURN_IF_ERROR(target()->RenameFile(from, to));
  OnRename(from, to, replaced, std::move(old_bytes));
  return Status::Ok();
}

Status FaultInjectionEnv::LinkFile(const std::string& from, const std::string& to) {
  bool unused = false;
  FLS_RETURN_IF_ERROR(MaybeFail(FaultOp::kCreate, to, &unused));
  FLS_RETURN_IF_ERROR(target()->LinkFile(from, to));
  std::lock_guard<std::mutex> lock(mu_);
  pending_[DirName(to)].push_back({false, "", to, false, {}});
  return Status::Ok();
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  bool unused = false;
  FLS_RETURN_IF_ERROR(MaybeFail(FaultOp::kSyncDir, dir, &unused));
  FLS_RETURN_IF_ERROR(target()->SyncDir(dir));
  OnSyncDir(dir);
  return Status::Ok();
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  bool unused = false;
  FLS_RETURN_IF_ERROR(MaybeFail(FaultOp::kRemove, path, &unused));
  FLS_RETURN_IF_ERROR(target()->RemoveFile(path));
  OnRemove(path);
  return Status::Ok();
}

Status FaultInjectionEnv::OpenDirectory(const std::string& path, std::unique_ptr<Directory>* dir) {
  std::unique_ptr<Directory> base;
  FLS_RETURN_IF_ERROR(target()->OpenDirectory(path, &base));
  *dir = std::make_unique<FaultDirectory>(this, std::move(base));
  return Status::Ok();
}

Status FaultInjectionEnv::DropUnsyncedData() {
  std::lock_guard<std::mutex> lock(mu_);
  Status result;
  // Undo directory changes newest first, so a rename is reverted before the
  // creation of its source is.
  for (auto& [dir, events] : pending_) {
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->rename) {
        if (::rename(it->to.c_str(), it->from.c_str()) == 0) {
          auto f = files_.find(it->to);
          if (f != files_.end()) {
            files_[it->from] = f->second;
            files_.erase(f);
          }
          if (it->replaced) {
            Status s = WriteBytes(it->to, it->old_bytes);
            if (!s.ok() && result.ok()) result = s;
          }
        }
      } else {
        if (::unlink(it->to.c_str()) == 0 || errno == ENOENT) files_.erase(it->to);
      }
    }
  }
  pending_.clear();
  crash_point_ = -1;
  for (const auto& [path, state] : files_) {
    if (::access(path.c_str(), F_OK) != 0) continue;
    if (::truncate(path.c_str(), static_cast<off_t>(state.synced)) != 0 && result.ok())
      result = PosixError("truncate", path, errno);
  }
  files_.clear();
  return result;
}

}  // namespace fls
