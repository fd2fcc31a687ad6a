#include "maintenance_lock.h"

#include <chrono>
#include <thread>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace fls::internal {
namespace {

std::string HolderOf(int fd) {
  char buf[256];
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "another process";
  std::string s(buf, static_cast<std::size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s.empty() ? "another process" : s;
}

}  // namespace

MaintenanceLock::~MaintenanceLock() {
  for (int fd : fds_) close(fd);  // closing releases the flock
}

Status MaintenanceLock::Acquire(const Store& store, const std::string& what,
                                std::unique_ptr<MaintenanceLock>* lock) {
  std::vector<std::string> dirs;
  for (const Target& t : store.targets()) dirs.push_back(t.path);
  std::sort(dirs.begin(), dirs.end());  // one order for every process
  std::unique_ptr<MaintenanceLock> held(new MaintenanceLock());
  for (const std::string& dir : dirs) {
    struct stat st;
    if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;  // a lost target
    const std::string path = JoinPath(dir, kMaintenanceLockName);
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      // A target that exists but refuses the lock file is read-only or
      // failing; maintenance that writes to it would fail anyway.
      return Status::IOError("maintenance lock " + path + ": " + std::strerror(errno));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      const std::string holder = HolderOf(fd);
      close(fd);
      if (err == EWOULDBLOCK)
        return Status::Unavailable("the store is busy: " + holder + " holds " + path + "; a " +
                                   what + " waits until it ends");
      return Status::IOError("maintenance lock " + path + ": " + std::strerror(err));
    }
    held->fds_.push_back(fd);
  }
  // Who holds it, for the message the next one gets; best effort.
  char when[32] = "";
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  if (gmtime_r(&now, &tm) != nullptr) std::strftime(when, sizeof when, "%FT%TZ", &tm);
  const std::string who =
      "a " + what + " (pid " + std::to_string(getpid()) + ", since " + when + ")\n";
  for (int fd : held->fds_) {
    if (ftruncate(fd, 0) == 0) (void)!pwrite(fd, who.data(), who.size(), 0);
  }
  *lock = std::move(held);
  return Status::Ok();
}

Status AcquireMaintenanceLock(const Store& store, const std::string& what, int wait_ms,
                              std::unique_ptr<MaintenanceLock>* lock) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  while (true) {
    Status s = MaintenanceLock::Acquire(store, what, lock);
    if (s.ok() || s.code() != Status::Code::kUnavailable ||
        std::chrono::steady_clock::now() >= deadline)
      return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace fls::internal
