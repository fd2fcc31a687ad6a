// The beneath resolvers (host/beneath.h).
#include "beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace fls::beneath {
namespace {

constexpr int kNotForced = -1;
std::atomic<int> g_forced{kNotForced};
std::atomic<bool> g_kernel_lacks_openat2{false};

Resolver FromEnvironment() {
  static const Resolver r = [] {
    const char* e = std::getenv("FLS_BENEATH");
    return e != nullptr && std::strcmp(e, "walk") == 0 ? Resolver::kWalk : Resolver::kOpenat2;
  }();
  return r;
}

// Closes `fd` keeping errno (close may change it on failure).
void CloseKeepErrno(int fd) {
  const int err = errno;
  ::close(fd);
  errno = err;
}

// Classifies what an O_PATH | O_NOFOLLOW descriptor refers to, race-free
// (the descriptor, not the name): a symbolic link is ELOOP, anything but a
// directory ENOTDIR when `want_dir`. Closes `fd` on failure.
int RequireKind(int fd, bool want_dir) {
  struct stat st;
  int err = 0;
  if (::fstat(fd, &st) != 0)
    err = errno;
  else if (S_ISLNK(st.st_mode))
    err = ELOOP;
  else if (want_dir && !S_ISDIR(st.st_mode))
    err = ENOTDIR;
  if (err == 0) return fd;
  ::close(fd);
  errno = err;
  return -1;
}

std::string Join(const std::vector<std::string>& parts) {
  if (parts.empty()) return ".";
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

int Openat2(int dirfd, const std::string& rel, int flags, mode_t mode) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = static_cast<__u64>(flags | O_CLOEXEC | O_NOFOLLOW);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  // EAGAIN: a rename somewhere on the system raced the lookup; the kernel
  // asks for a retry. Bounded, so a flood of renames cannot spin us.
  for (int attempt = 0; attempt < 64; ++attempt) {
    const long fd = ::syscall(SYS_openat2, dirfd, rel.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno != EAGAIN && errno != EINTR) return -1;
  }
  return -1;
}

int Walk(int dirfd, const std::vector<std::string>& parts, int flags, mode_t mode) {
  if (parts.empty()) return ::openat(dirfd, ".", flags | O_CLOEXEC, mode);
  int cur = dirfd;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    // O_PATH | O_NOFOLLOW opens a link itself instead of failing with an
    // errno that depends on the flags; fstat of that descriptor then says
    // what it is, with no second lookup of the name to race.
    int fd = ::openat(cur, parts[i].c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) fd = RequireKind(fd, true);
    if (cur != dirfd) CloseKeepErrno(cur);
    if (fd < 0) return -1;
    cur = fd;
  }
  const int fd = ::openat(cur, parts.back().c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
  if (cur != dirfd) CloseKeepErrno(cur);
  return fd;
}

int Resolve(int dirfd, const std::vector<std::string>& parts, int flags, mode_t mode) {
  const int forced = g_forced.load();
  if (ActiveResolver() == Resolver::kWalk) return Walk(dirfd, parts, flags, mode);
  const int fd = Openat2(dirfd, Join(parts), flags, mode);
  if (fd >= 0 || errno != ENOSYS || forced != kNotForced) return fd;
  g_kernel_lacks_openat2 = true;  // this kernel predates openat2: walk from now on
  return Walk(dirfd, parts, flags, mode);
}

}  // namespace

Resolver ActiveResolver() {
  const int forced = g_forced.load();
  if (forced != kNotForced) return static_cast<Resolver>(forced);
  if (FromEnvironment() == Resolver::kWalk || g_kernel_lacks_openat2.load()) return Resolver::kWalk;
  return Resolver::kOpenat2;
}

const char* ResolverName(Resolver r) { return r == Resolver::kOpenat2 ? "openat2" : "walk"; }

void ForceResolver(Resolver r) { g_forced = static_cast<int>(r); }
void ResetResolver() { g_forced = kNotForced; }

bool SplitRelative(std::string_view rel, std::vector<std::string>* parts) {
  parts->clear();
  if (!rel.empty() && rel[0] == '/') {
    errno = EXDEV;
    return false;
  }
  std::size_t start = 0;
  while (start <= rel.size()) {
    std::size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    const std::string_view part = rel.substr(start, end - start);
    if (part == "..") {
      errno = EXDEV;
      return false;
    }
    if (!part.empty() && part != ".") parts->emplace_back(part);
    start = end + 1;
  }
  return true;
}

int OpenBeneath(int dirfd, std::string_view rel, int flags, mode_t mode) {
  std::vector<std::string> parts;
  if (!SplitRelative(rel, &parts)) return -1;
  if ((flags & O_DIRECTORY) == 0) {
    const int fd = Resolve(dirfd, parts, flags, mode);
    // Both resolvers hand out an O_PATH descriptor of a final link itself.
    return fd >= 0 && (flags & O_PATH) != 0 ? RequireKind(fd, false) : fd;
  }
  // A directory: resolve to an O_PATH descriptor without O_DIRECTORY (which
  // would turn a final link into ENOTDIR), check its kind, then open "."
  // of it with the caller's flags: the same directory, no name looked up.
  int fd = Resolve(dirfd, parts, O_PATH, 0);
  if (fd < 0) return -1;
  fd = RequireKind(fd, true);
  if (fd < 0 || (flags & O_PATH) != 0) return fd;
  const int dir = ::openat(fd, ".", (flags & ~O_NOFOLLOW) | O_CLOEXEC);
  CloseKeepErrno(fd);
  return dir;
}

int OpenDirBeneath(int dirfd, std::string_view rel, bool create) {
  const int whole = OpenBeneath(dirfd, rel, O_RDONLY | O_DIRECTORY);
  if (whole >= 0 || !create || errno != ENOENT) return whole;
  std::vector<std::string> parts;
  if (!SplitRelative(rel, &parts)) return -1;
  int cur = dirfd;
  for (const std::string& part : parts) {
    int fd = OpenBeneath(cur, part, O_RDONLY | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT) {
      // Made relative to the descriptor of its parent: inside, whatever
      // happens to the names above meanwhile.
      if (::mkdirat(cur, part.c_str(), 0755) == 0 || errno == EEXIST)
        fd = OpenBeneath(cur, part, O_RDONLY | O_DIRECTORY);
    }
    if (fd < 0) {
      if (cur != dirfd) CloseKeepErrno(cur);
      return -1;
    }
    if (cur != dirfd) ::close(cur);
    cur = fd;
  }
  return cur == dirfd ? OpenBeneath(dirfd, "", O_RDONLY | O_DIRECTORY) : cur;
}

std::string ExplainErrno(int err) {
  switch (err) {
    case ELOOP:
      return "a symbolic link on the way (symbolic links are not followed below a root)";
    case EXDEV:
      return "it leads out of its root ('..' or an absolute name)";
    case EAGAIN:
      return "concurrent renames kept the lookup from completing (openat2: EAGAIN)";
    default:
      return std::strerror(err);
  }
}

}  // namespace fls::beneath
