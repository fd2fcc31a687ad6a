// Start-up cleanup of temporaries left by killed writers: what is removed
// (a dead writer of this host, anything idle for the limit) and what is kept
// (this process's, a live process's, another host's fresh one, non-temps).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <ctime>

#include "archive_test_util.h"
#include "test_paths.h"
#include "fls/env.h"
#include "fls/store.h"

namespace fls {
namespace {

using testing::TempDir;
using testing::WriteFile;

// The temporary name a child process would use for `final_path`; the child
// exits at once, so its pid is gone once reaped.
std::string TempNameOfExitedChild(const std::string& final_path) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string name = TempPathFor(final_path);
    (void)!::write(fds[1], name.data(), name.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  char buf[4096];
  const ssize_t n = ::read(fds[0], buf, sizeof buf);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

void SetMtime(const std::string& path, std::time_t seconds_ago) {
  struct timespec t[2];
  t[0].tv_sec = t[1].tv_sec = std::time(nullptr) - seconds_ago;
  t[0].tv_nsec = t[1].tv_nsec = 0;
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), t, 0), 0);
}

TEST(StaleTemporaries, DeadWriterRemovedLiveAndForeignKept) {
  TempDir dir;
  const std::string dead = TempNameOfExitedChild(dir / "fls-a.c0.chunk");
  ASSERT_TRUE(IsTempName(BaseName(dead))) << dead;
  WriteFile(dead, "half");
  const std::string mine = TempPathFor(dir / "fls-a.c1.chunk");
  WriteFile(mine, "mine");
  // A live process of this host: its pid, our host tag.
  const pid_t sleeper = ::fork();
  if (sleeper == 0) {
    ::pause();
    ::_exit(0);
  }
  std::string live = mine;
  const std::string me = "-" + std::to_string(::getpid()) + "-";
  live.replace(live.find(me), me.size(), "-" + std::to_string(sleeper) + "-");
  WriteFile(live, "live");
  // Old-format name (no host tag): judged by age only.
  const std::string old_fresh = dir / ".fls-a.c2.chunk.tmp-999999-abc-0";
  const std::string old_idle = dir / ".fls-a.c3.chunk.tmp-999998-abc-0";
  WriteFile(old_fresh, "x");
  WriteFile(old_idle, "x");
  SetMtime(old_idle, 7200);
  // Another host's tag with a pid that does not exist here.
  std::string foreign = dead;
  // The tag follows ".tmp-<pid>"; the directory's random name may hold "-h" too.
  const auto h = foreign.find("-h", foreign.rfind(".tmp-"));
  ASSERT_NE(h, std::string::npos);
  foreign[h + 2] = foreign[h + 2] == '0' ? '1' : '0';
  WriteFile(foreign, "elsewhere");
  WriteFile(dir / "fls-a.c4.chunk", "final");
  WriteFile(dir / ".hidden", "not a temporary");

  EXPECT_TRUE(TempWriterIsGone(BaseName(dead)));
  EXPECT_FALSE(TempWriterIsGone(BaseName(mine)));
  EXPECT_FALSE(TempWriterIsGone(BaseName(live)));
  EXPECT_FALSE(TempWriterIsGone(BaseName(foreign)));
  EXPECT_FALSE(TempWriterIsGone(BaseName(old_idle)));
  EXPECT_FALSE(TempWriterIsGone("fls-a.c4.chunk"));

  std::vector<std::string> removed;
  ASSERT_TRUE(
      RemoveStaleTempFiles(Env::Default(), dir.path(), Store::kStaleTempIdleNs, &removed).ok());
  std::sort(removed.begin(), removed.end());
  std::vector<std::string> want = {dead, old_idle};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(removed, want);
  for (const auto& p : {mine, live, old_fresh, foreign, dir / "fls-a.c4.chunk", dir / ".hidden"})
    EXPECT_TRUE(std::filesystem::exists(p)) << p;
  ::kill(sleeper, SIGKILL);
  ::waitpid(sleeper, nullptr, 0);
  // Now the sleeper is gone too.
  removed.clear();
  ASSERT_TRUE(
      RemoveStaleTempFiles(Env::Default(), dir.path(), Store::kStaleTempIdleNs, &removed).ok());
  EXPECT_EQ(removed, std::vector<std::string>{live});
}

TEST(StaleTemporaries, RestoreOutputCleanupTouchesOnlyItsOwnDeadTemporaries) {
  TempDir dir;
  const std::string out = dir / "restored.bin";
  const std::string dead = TempNameOfExitedChild(out);
  const std::string dead_other_name = TempNameOfExitedChild(dir / "other.bin");
  const std::string mine = TempPathFor(out);
  std::string old_idle = dir / ".restored.bin.tmp-999998-abc-0";  // no host tag
  for (const auto& p : {dead, dead_other_name, mine, old_idle}) WriteFile(p, "half");
  SetMtime(old_idle, 7200);
  WriteFile(out, "the user's previous output");

  std::vector<std::string> removed;
  ASSERT_TRUE(RemoveDeadWritersTempsFor(Env::Default(), out, &removed).ok());
  EXPECT_EQ(removed, std::vector<std::string>{dead});
  // Another output's temporary, a live writer's (this process), an old-format
  // name (whose writer cannot be judged) and the output itself stay: an
  // output directory is the user's, not fls's.
  for (const auto& p : {dead_other_name, mine, old_idle, out})
    EXPECT_TRUE(std::filesystem::exists(p)) << p;
  EXPECT_TRUE(RemoveDeadWritersTempsFor(Env::Default(), dir / "no-such-dir/x", &removed).ok());
}

TEST(StaleTemporaries, StoreCleansEveryTargetAndReportsMissingNone) {
  TempDir dir;
  auto store = testing::MakeStore(dir.path(), 3);
  std::vector<std::string> planted;
  for (int i = 0; i < 3; ++i) {
    planted.push_back(TempNameOfExitedChild(dir / ("t" + std::to_string(i) + "/fls-b.c0.chunk")));
    WriteFile(planted.back(), "half");
  }
  std::filesystem::remove_all(dir / "t2");  // a vanished target is not an error
  planted.pop_back();
  std::vector<std::string> removed, warnings;
  store->RemoveStaleTemporaries(&removed, &warnings);
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, planted);
  EXPECT_TRUE(warnings.empty()) << warnings[0];
}

// `fls archive` lists each target for dead writers' temporaries at most once
// per 10 minutes (the marker .fls-temp-scan records the last scan): a
// temporary of a dead writer survives an archive run within that time and
// goes with the first one after it.
TEST(StaleTemporaries, ArchiveScansATargetAtMostEveryTenMinutes) {
  TempDir t;
  std::string yaml = "targets:\n";
  for (int i = 0; i < 14; ++i) {
    testing::fs::create_directories(t / ("t" + std::to_string(i)));
    yaml += "  - path: t" + std::to_string(i) + "\n";
  }
  WriteFile(t / "fls-store.yaml", yaml);
  WriteFile(t / "a", "first");
  WriteFile(t / "b", "second");
  WriteFile(t / "c", "third");
  const std::string fls = FLS_BINARY;
  ASSERT_EQ(testing::Shell(fls + " archive -q " + t.path() + " " + (t / "a")).rc, 0);
  const std::string marker = t / "t3/.fls-temp-scan";
  ASSERT_TRUE(testing::fs::exists(marker));
  EXPECT_EQ(testing::fs::file_size(marker), 0u);
  const std::string dead = TempNameOfExitedChild(t / "t3/fls-x.c0.chunk");
  WriteFile(dead, "left by a killed writer");
  ASSERT_EQ(testing::Shell(fls + " archive -q " + t.path() + " " + (t / "b")).rc, 0);
  EXPECT_TRUE(testing::fs::exists(dead)) << "scanned again within 10 minutes";
  SetMtime(marker, 11 * 60);
  ASSERT_EQ(testing::Shell(fls + " archive -q " + t.path() + " " + (t / "c")).rc, 0);
  EXPECT_FALSE(testing::fs::exists(dead)) << "not scanned after 10 minutes";
}

}  // namespace
}  // namespace fls
