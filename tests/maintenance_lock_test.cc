// The store's maintenance lock (host/archive/maintenance_lock.h): a repair sweep and a
// rebalance never run on one store at once, whichever process holds it, and
// a holder killed with SIGKILL releases it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "archive_test_util.h"
#include "fls/rebalance.h"
#include "fls/sweep.h"
#include "host/archive/maintenance_lock.h"

namespace fls {
namespace {

using internal::MaintenanceLock;

TEST(MaintenanceLock, SecondHolderIsRefusedNamingTheFirst) {
  testing::TempDir dir;
  auto store = testing::MakeStore(dir.path(), 4);
  std::unique_ptr<MaintenanceLock> first, second;
  ASSERT_TRUE(MaintenanceLock::Acquire(*store, "repair sweep", &first).ok());
  const Status s = MaintenanceLock::Acquire(*store, "rebalance", &second);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("repair sweep (pid " + std::to_string(getpid())), std::string::npos)
      << s.ToString();
  EXPECT_NE(s.message().find(internal::kMaintenanceLockName), std::string::npos) << s.ToString();
  EXPECT_EQ(second, nullptr);
  first.reset();
  EXPECT_TRUE(MaintenanceLock::Acquire(*store, "rebalance", &second).ok());
}

TEST(MaintenanceLock, RepairSweepAndRebalanceRefuseWhileHeldVerifyDoesNot) {
  testing::TempDir dir;
  auto store = testing::MakeStore(dir.path(), 4);
  const std::string src = dir / "src.bin";
  testing::WriteFile(src, testing::RandomBytes(100000, 1));
  ArchiveOptions ao;
  ao.k = 2;
  ao.m = 1;
  ao.name = "a";
  ArchiveResult ar;
  ASSERT_TRUE(ArchiveFile(*store, src, ao, &ar).ok());
  std::unique_ptr<MaintenanceLock> held;
  ASSERT_TRUE(MaintenanceLock::Acquire(*store, "test", &held).ok());
  SweepOptions so;
  so.backend = "isal";
  SweepReport sr;
  EXPECT_EQ(RunSweep(*store, so, &sr).code(), Status::Code::kUnavailable);
  so.verify_only = true;
  EXPECT_TRUE(RunSweep(*store, so, &sr).ok());
  EXPECT_EQ(sr.healthy, 1u);
  RebalanceResult rr;
  EXPECT_EQ(RebalanceStore(*store, RebalanceOptions{}, &rr).code(), Status::Code::kUnavailable);
  RebalanceOptions dry;
  dry.dry_run = true;  // plans only: no lock needed
  EXPECT_TRUE(RebalanceStore(*store, dry, &rr).ok());
  held.reset();
  so.verify_only = false;
  EXPECT_TRUE(RunSweep(*store, so, &sr).ok());
}

TEST(MaintenanceLock, OverlappingTargetListsConflictAndLostTargetsAreSkipped) {
  testing::TempDir dir;
  auto a = testing::MakeStore(dir.path(), 4);  // t0..t3
  std::vector<Target> other = {{dir / "t3", ""}, {dir / "u0", ""}, {dir / "gone", ""}};
  std::filesystem::create_directories(dir / "u0");
  std::unique_ptr<Store> b;
  ASSERT_TRUE(Store::FromTargets(Env::Default(), other, &b).ok());
  std::unique_ptr<MaintenanceLock> la, lb;
  ASSERT_TRUE(MaintenanceLock::Acquire(*a, "repair sweep", &la).ok());
  const Status s = MaintenanceLock::Acquire(*b, "rebalance", &lb);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find(dir / "t3"), std::string::npos) << s.ToString();
  la.reset();
  EXPECT_TRUE(MaintenanceLock::Acquire(*b, "rebalance", &lb).ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "gone")) << "a lost target must not be recreated";
}

TEST(MaintenanceLock, KilledHolderReleasesIt) {
  testing::TempDir dir;
  auto store = testing::MakeStore(dir.path(), 3);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::unique_ptr<MaintenanceLock> lock;
    const char ok = MaintenanceLock::Acquire(*store, "repair sweep", &lock).ok() ? 'y' : 'n';
    (void)!write(ready[1], &ok, 1);
    for (int i = 0; i < 600; ++i) sleep(1);  // bounded: the parent kills it long before
    _exit(0);
  }
  char got = 0;
  ASSERT_EQ(read(ready[0], &got, 1), 1);
  ASSERT_EQ(got, 'y');
  std::unique_ptr<MaintenanceLock> lock;
  const Status busy = MaintenanceLock::Acquire(*store, "rebalance", &lock);
  EXPECT_EQ(busy.code(), Status::Code::kUnavailable) << busy.ToString();
  EXPECT_NE(busy.message().find("pid " + std::to_string(child)), std::string::npos)
      << busy.ToString();
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(MaintenanceLock::Acquire(*store, "rebalance", &lock).ok());
  close(ready[0]);
  close(ready[1]);
}

}  // namespace
}  // namespace fls
