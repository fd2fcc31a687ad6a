// The beneath resolvers (host/beneath.h) and the Directory they serve
// (fls/env.h), each test run under both resolvers: openat2 with
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, and the
// O_NOFOLLOW walk (forced here; in production it is what an ENOSYS from
// openat2 selects, which SeccompEnosysFallsBackToTheWalk provokes for real).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <thread>

#include "archive_test_util.h"
#include "fls/env.h"
#include "fls/fault_injection_env.h"
#include "host/archive/beneath.h"

namespace fls {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;
namespace fs = std::filesystem;

// Holds a descriptor for the test's lifetime.
struct Fd {
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int fd;
};

class Beneath : public ::testing::TestWithParam<beneath::Resolver> {
 protected:
  void SetUp() override {
    beneath::ForceResolver(GetParam());
    fs::create_directories(dir_ / "root/a/b");
    fs::create_directories(dir_ / "outside/a/b");
    WriteFile(dir_ / "root/a/b/f", "inside");
    WriteFile(dir_ / "outside/a/b/f", "CANARY");
    WriteFile(dir_ / "outside/f", "CANARY");
    root_ = ::open((dir_ / "root").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(root_, 0);
  }
  void TearDown() override {
    ::close(root_);
    beneath::ResetResolver();
  }
  // Reads what OpenBeneath opened, or "errno:<name>".
  std::string ReadBeneath(const std::string& rel) {
    const int fd = beneath::OpenBeneath(root_, rel, O_RDONLY);
    if (fd < 0) return std::string("errno:") + strerrorname_np(errno);
    char buf[64];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    return n < 0 ? "read error" : std::string(buf, static_cast<std::size_t>(n));
  }
  TempDir dir_;
  int root_ = -1;
};

TEST_P(Beneath, OpensWhatLiesBelow) {
  EXPECT_EQ(ReadBeneath("a/b/f"), "inside");
  EXPECT_EQ(ReadBeneath("a//b/./f"), "inside");
  EXPECT_EQ(ReadBeneath("a/b/missing"), "errno:ENOENT");
  EXPECT_EQ(ReadBeneath("a/b/f/x"), "errno:ENOTDIR");
  Fd self(beneath::OpenBeneath(root_, "", O_RDONLY | O_DIRECTORY));
  EXPECT_GE(self.fd, 0);
}

TEST_P(Beneath, DotDotAndAbsoluteNamesAreRefused) {
  EXPECT_EQ(ReadBeneath("../outside/f"), "errno:EXDEV");
  EXPECT_EQ(ReadBeneath("a/../a/b/f"), "errno:EXDEV");  // even when it would stay inside
  EXPECT_EQ(ReadBeneath((dir_ / "outside/f")), "errno:EXDEV");
}

// A symbolic link at each level of the path, to the twin outside the root
// and to a place inside it: refused every time, and the outside bytes are
// never what comes back.
TEST_P(Beneath, SymbolicLinksAtEveryLevelAreRefused) {
  struct Level {
    std::string rel;     // the component replaced by a link
    std::string inside;  // a target inside the root of the same kind
  };
  const std::vector<Level> levels = {{"a", "a.real"}, {"a/b", "a/b.real"}, {"a/b/f", "a/b/f.real"}};
  for (const Level& l : levels) {
    for (const bool out : {true, false}) {
      const std::string victim = dir_ / ("root/" + l.rel);
      fs::rename(victim, dir_ / ("root/" + l.inside));
      fs::create_symlink(out ? dir_ / ("outside/" + l.rel) : dir_ / ("root/" + l.inside), victim);
      EXPECT_EQ(ReadBeneath("a/b/f"), "errno:ELOOP") << l.rel << (out ? " -> outside" : " -> in");
      // The Directory says what happened, naming the path.
      std::unique_ptr<Directory> root;
      ASSERT_TRUE(Env::Default()->OpenDirectory(dir_ / "root", &root).ok());
      std::unique_ptr<RandomAccessFile> f;
      Status s = root->NewRandomAccessFile("a/b/f", &f, nullptr);
      EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
      EXPECT_NE(s.message().find("symbolic link"), std::string::npos) << s.ToString();
      EXPECT_EQ(f, nullptr);
      std::unique_ptr<Directory> sub;
      if (l.rel != "a/b/f") {
        s = root->OpenDirectory("a/b", false, &sub);
        EXPECT_NE(s.message().find("symbolic link"), std::string::npos) << s.ToString();
      }
      fs::remove(victim);
      fs::rename(dir_ / ("root/" + l.inside), victim);
    }
  }
  EXPECT_EQ(ReadBeneath("a/b/f"), "inside");
  EXPECT_EQ(ReadFile(dir_ / "outside/a/b/f"), "CANARY");
}

// /proc/self/root and /proc/self/fd/N are "magic" links: crossing one would
// jump anywhere. Neither resolver crosses them.
TEST_P(Beneath, ProcMagicLinksAreNotCrossed) {
  Fd proc(::open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (proc.fd < 0) GTEST_SKIP() << "no /proc";
  Fd a(beneath::OpenBeneath(proc.fd, "root/etc/hostname", O_RDONLY));
  EXPECT_LT(a.fd, 0);
  EXPECT_EQ(errno, ELOOP);
  Fd b(beneath::OpenBeneath(proc.fd, "cwd", O_RDONLY | O_DIRECTORY));
  EXPECT_LT(b.fd, 0);
  EXPECT_EQ(errno, ELOOP);
}

TEST_P(Beneath, CreatingDirectoriesStaysInsideAndStopsAtALink) {
  Fd made(beneath::OpenDirBeneath(root_, "x/y/z", true));
  ASSERT_GE(made.fd, 0) << strerror(errno);
  EXPECT_TRUE(fs::is_directory(dir_ / "root/x/y/z"));
  // An existing path opens without creating anything.
  Fd again(beneath::OpenDirBeneath(root_, "x/y/z", true));
  EXPECT_GE(again.fd, 0);
  fs::create_directory_symlink(dir_ / "outside", dir_ / "root/l");
  Fd bad(beneath::OpenDirBeneath(root_, "l/new/deeper", true));
  EXPECT_LT(bad.fd, 0);
  EXPECT_EQ(errno, ELOOP);
  EXPECT_FALSE(fs::exists(dir_ / "outside/new"));
  Fd nope(beneath::OpenDirBeneath(root_, "missing/dir", false));
  EXPECT_LT(nope.fd, 0);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_FALSE(fs::exists(dir_ / "root/missing"));
}

// Only regular files are opened for reading: a FIFO must not hang the caller
// (nothing writes to it here: a blocking open would never return), a device
// or socket is refused, each named for what it is.
TEST_P(Beneath, DirectoryReadsOnlyRegularFiles) {
  std::unique_ptr<Directory> root;
  ASSERT_TRUE(Env::Default()->OpenDirectory(dir_ / "root", &root).ok());
  ASSERT_EQ(::mkfifo((dir_ / "root/fifo").c_str(), 0644), 0);
  std::unique_ptr<RandomAccessFile> f;
  FileInfo info;
  Status s = root->NewRandomAccessFile("fifo", &f, &info);
  EXPECT_NE(s.message().find("is a FIFO, not a regular file"), std::string::npos) << s.ToString();
  s = root->NewRandomAccessFile("a", &f, &info);
  EXPECT_NE(s.message().find("is a directory"), std::string::npos) << s.ToString();
  const int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  const std::string sock_path = dir_ / "root/sock";
  ASSERT_LT(sock_path.size(), sizeof addr.sun_path);
  std::strcpy(addr.sun_path, sock_path.c_str());
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  s = root->NewRandomAccessFile("sock", &f, &info);
  EXPECT_NE(s.message().find("is a socket"), std::string::npos) << s.ToString();
  ::close(sock);
  if (::mknod((dir_ / "root/zero").c_str(), S_IFCHR | 0644, makedev(1, 5)) == 0) {
    s = root->NewRandomAccessFile("zero", &f, &info);
    EXPECT_NE(s.message().find("is a character device"), std::string::npos) << s.ToString();
  } else {
    std::printf("beneath: mknod not permitted here (%s): device case not run\n", strerror(errno));
  }
  ASSERT_TRUE(root->NewRandomAccessFile("a/b/f", &f, &info).ok());
  EXPECT_EQ(info.size, 6u);
  EXPECT_EQ(info.type, FileType::kRegular);
  EXPECT_EQ(info.links, 1u);
  char buf[8];
  std::size_t got = 0;
  ASSERT_TRUE(f->Read(0, sizeof buf, buf, &got).ok());
  EXPECT_EQ(std::string(buf, got), "inside");
}

// The write path: exclusive creation (never through an existing name or a
// link), rename within the directory (a link of the final name is replaced,
// never followed), fsync, listing, removal.
TEST_P(Beneath, DirectoryWritesOnlyThroughItsOwnDescriptor) {
  std::unique_ptr<Directory> root, b;
  ASSERT_TRUE(Env::Default()->OpenDirectory(dir_ / "root", &root).ok());
  ASSERT_TRUE(root->OpenDirectory("a/b", false, &b).ok());
  std::unique_ptr<WritableFile> w;
  EXPECT_FALSE(b->NewWritableFile("f", &w).ok());  // exists: never opened for writing
  fs::create_symlink(dir_ / "outside/f", dir_ / "root/a/b/link");
  Status s = b->NewWritableFile("link", &w);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(b->NewWritableFile("../escape", &w).ok());
  ASSERT_TRUE(b->NewWritableFile(".tmp", &w).ok());
  ASSERT_TRUE(w->Append("new bytes", 9).ok());
  ASSERT_TRUE(w->SetModeAndTime(0600, 1234567890123456789).ok());
  ASSERT_TRUE(w->Sync().ok());
  ASSERT_TRUE(w->Close().ok());
  // The directory is moved away and a link to the outside takes its name:
  // the descriptor still writes into the moved directory, inside the root.
  fs::rename(dir_ / "root/a/b", dir_ / "root/a/b.moved");
  fs::create_directory_symlink(dir_ / "outside/a/b", dir_ / "root/a/b");
  ASSERT_TRUE(b->RenameFile(".tmp", "link").ok());
  ASSERT_TRUE(b->Sync().ok());
  EXPECT_EQ(ReadFile(dir_ / "root/a/b.moved/link"), "new bytes");
  EXPECT_FALSE(fs::is_symlink(dir_ / "root/a/b.moved/link"));
  EXPECT_EQ(ReadFile(dir_ / "outside/f"), "CANARY");
  EXPECT_EQ(ReadFile(dir_ / "outside/a/b/f"), "CANARY");
  EXPECT_FALSE(fs::exists(dir_ / "outside/a/b/link"));
  struct stat st;
  ASSERT_EQ(::stat((dir_ / "root/a/b.moved/link").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1234567890);
  std::vector<std::string> names;
  ASSERT_TRUE(b->GetChildren(&names).ok());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"f", "link"}));
  FileInfo info;
  ASSERT_TRUE(b->GetFileInfo("link", &info).ok());
  EXPECT_EQ(info.type, FileType::kRegular);
  EXPECT_TRUE(b->RemoveFile("link").ok());
  EXPECT_EQ(b->RemoveFile("link").code(), Status::Code::kNotFound);
  ASSERT_TRUE(root->GetFileInfo("a/b", &info).ok());
  EXPECT_EQ(info.type, FileType::kSymlink);  // lstat: the link itself
}

// A directory flipped between a real one and a link to the outside
// (renameat2 RENAME_EXCHANGE, atomic) while opens run: every open either
// fails or reads the inside file; never a byte from outside.
TEST_P(Beneath, RaceAgainstADirectorySwappedForALink) {
  fs::create_directory_symlink(dir_ / "outside/a/b", dir_ / "root/a/swap");
  std::atomic<bool> stop{false};
  std::atomic<int> flips{0};
  std::thread flipper([&] {
    const std::string x = dir_ / "root/a/b", y = dir_ / "root/a/swap";
    while (!stop.load()) {
      if (::renameat2(AT_FDCWD, x.c_str(), AT_FDCWD, y.c_str(), RENAME_EXCHANGE) == 0) ++flips;
    }
  });
  int inside = 0, refused = 0;
  constexpr int kTries = 20000;
  for (int i = 0; i < kTries; ++i) {
    const std::string got = ReadBeneath("a/b/f");
    if (got == "inside")
      ++inside;
    else if (got == "errno:ELOOP" || got == "errno:ENOENT" || got == "errno:EAGAIN")
      ++refused;
    else
      ADD_FAILURE() << "try " << i << " read '" << got << "'";
  }
  stop = true;
  flipper.join();
  EXPECT_GT(flips.load(), 100);
  EXPECT_EQ(inside + refused, kTries);
  std::printf("beneath %s race: %d tries, %d read inside, %d refused, %d flips\n",
              beneath::ResolverName(GetParam()), kTries, inside, refused, flips.load());
}

INSTANTIATE_TEST_SUITE_P(Resolvers, Beneath,
                         ::testing::Values(beneath::Resolver::kOpenat2, beneath::Resolver::kWalk),
                         [](const auto& info) { return beneath::ResolverName(info.param); });

// A kernel without openat2 answers ENOSYS: made real here with a seccomp
// filter in a child process. The first open falls back to the walk and stays
// there, and the walk still refuses links.
TEST(BeneathFallback, SeccompEnosysFallsBackToTheWalk) {
  TempDir dir;
  fs::create_directories(dir / "root/a");
  WriteFile(dir / "root/a/f", "inside");
  fs::create_directory_symlink(dir / "root/a", dir / "root/l");
  beneath::ResetResolver();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog prog = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(10);
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) ::_exit(11);
    const int root = ::open((dir / "root").c_str(), O_RDONLY | O_DIRECTORY);
    if (beneath::ActiveResolver() != beneath::Resolver::kOpenat2) ::_exit(12);
    const int fd = beneath::OpenBeneath(root, "a/f", O_RDONLY);
    if (fd < 0) ::_exit(13);
    if (beneath::ActiveResolver() != beneath::Resolver::kWalk) ::_exit(14);
    if (beneath::OpenBeneath(root, "l/f", O_RDONLY) >= 0 || errno != ELOOP) ::_exit(15);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "child step " << WEXITSTATUS(status) << " failed";
}

// Faults reach the Directory's write path as they reach the path-based one:
// the restore's temporary, rename and directory fsync can be failed, and a
// simulated crash undoes an un-fsynced rename made through a descriptor.
TEST(BeneathFaults, FaultInjectionReachesDirectoryCalls) {
  TempDir dir;
  fs::create_directories(dir / "out");
  FaultInjectionEnv env(Env::Default());
  std::unique_ptr<Directory> out;
  ASSERT_TRUE(env.OpenDirectory(dir / "out", &out).ok());
  for (const FaultOp op : {FaultOp::kCreate, FaultOp::kRename, FaultOp::kSyncDir}) {
    FaultRule rule;
    rule.op = op;
    rule.path_contains = "out";
    rule.fail_times = 1;
    env.AddRule(rule);
    std::unique_ptr<WritableFile> w;
    Status s = out->NewWritableFile("t", &w);
    if (s.ok()) s = out->RenameFile("t", "final");
    if (s.ok()) s = out->Sync();
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("(injected)"), std::string::npos) << s.ToString();
    env.ClearRules();
    out->RemoveFile("t");
    out->RemoveFile("final");
  }
  EXPECT_EQ(env.faults_injected(), 3);
  std::unique_ptr<WritableFile> w;
  ASSERT_TRUE(out->NewWritableFile("t", &w).ok());
  ASSERT_TRUE(w->Append("abc", 3).ok());
  ASSERT_TRUE(w->Sync().ok());
  ASSERT_TRUE(w->Close().ok());
  ASSERT_TRUE(out->RenameFile("t", "final").ok());
  ASSERT_TRUE(env.DropUnsyncedData().ok());  // the directory was never fsynced
  EXPECT_FALSE(fs::exists(dir / "out/final"));
}

}  // namespace
}  // namespace fls
