// Interrupted `fls upgrade` runs on copies of the committed version 1
// store: a crash after every mutating call of UpgradeStore
// (FaultInjectionEnv), and the real command killed with SIGKILL at random
// points. After each: every object restores bit-exact, then a rerun leaves a
// clean version 3 store (tests/upgrade_test_util.h). Counts go to stdout
// ("upgrade crash sweep: ...", "upgrade SIGKILL loop: ...").
#include <chrono>
#include <random>

#include "fls/fault_injection_env.h"
#include "upgrade_test_util.h"

namespace fls::upgrade_test {
namespace {

// Crash after mutating call N (FaultInjectionEnv), for every N until a run
// finishes before its crash point.
TEST(Upgrade, CrashAfterEveryMutationLeavesEveryObjectRestorable) {
  constexpr int kMaxPoints = 5000;
  int point = 0;
  for (; point < kMaxPoints; ++point) {
    SCOPED_TRACE("crash point " + std::to_string(point));
    FixtureCopy f;
    bool finished = false;
    {
      FaultInjectionEnv env(Env::Default());
      std::unique_ptr<Store> store = f.Open(&env);
      env.SetCrashPoint(point);
      UpgradeReport report;
      Status s = UpgradeStore(*store, Options(f), &report);
      finished = env.faults_injected() == 0;
      if (finished) {
        EXPECT_TRUE(s.ok()) << s.ToString();
        EXPECT_TRUE(report.failures.empty());
      }
      ASSERT_TRUE(env.DropUnsyncedData().ok());
    }
    const std::string when = "crash point " + std::to_string(point);
    ExpectEveryObjectRestores(f, *f.Open(), when);
    std::unique_ptr<Store> clean = f.Open();
    UpgradeReport again;
    Status s = UpgradeStore(*clean, Options(f), &again);
    ASSERT_TRUE(s.ok()) << when << ": " << s.ToString();
    for (const UpgradeFailure& fail : again.failures)
      ADD_FAILURE() << when << ": rerun failed '" << fail.name << "': " << fail.status.ToString();
    ExpectCleanV3Store(f, when + ", rerun");
    if (HasFatalFailure() || finished) break;
  }
  EXPECT_LT(point, kMaxPoints) << "no run finished before its crash point";
  std::printf("upgrade crash sweep: %d crash points, then a run finished\n", point);
}

std::vector<std::string> UpgradeArgs(const FixtureCopy& f) {
  return {"upgrade", "-q", f.config(), "--scratch", f.scratch(), "--threads", "1"};
}

// The real command killed with SIGKILL at random points (fixed seed) over
// the time an uninterrupted run takes, started the same way.
TEST(Upgrade, SigkillLoopLeavesEveryObjectRestorable) {
  constexpr int kRuns = 30;
  using Clock = std::chrono::steady_clock;
  std::chrono::microseconds full{};
  {
    FixtureCopy f;
    bool killed = false;
    const auto t0 = Clock::now();
    ASSERT_TRUE(
        testing::RunAndMaybeKill(FLS_BINARY, UpgradeArgs(f), std::chrono::seconds(60), &killed));
    full = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
    ExpectCleanV3Store(f, "uninterrupted run");
  }
  std::mt19937_64 rng(20261202);
  std::uniform_int_distribution<std::int64_t> delay(0, full.count());
  int killed_runs = 0, mixed = 0;
  for (int run = 0; run < kRuns; ++run) {
    FixtureCopy f;
    const std::chrono::microseconds after{delay(rng)};
    const std::string when =
        "run " + std::to_string(run) + " (kill after " + std::to_string(after.count()) + " us)";
    bool killed = false;
    testing::RunAndMaybeKill(FLS_BINARY, UpgradeArgs(f), after, &killed);
    killed_runs += killed;
    {
      std::unique_ptr<Store> store = f.Open();
      std::set<int> versions;
      for (const CatalogEntry& e : store->ReadCatalog().objects)
        versions.insert(e.manifest.format_version);
      mixed += killed && versions.size() > 1;
      ExpectEveryObjectRestores(f, *store, when);
    }
    CmdResult r = Fls("upgrade -q " + f.config() + " --scratch " + f.scratch());
    ASSERT_EQ(r.rc, 0) << when << ": " << r.out;
    ExpectCleanV3Store(f, when + ", rerun");
    if (HasFatalFailure()) break;
  }
  std::printf(
      "upgrade SIGKILL loop: %d runs, %d killed, %d of them between the first and the last "
      "object's upgrade; an uninterrupted run took %lld us\n",
      kRuns, killed_runs, mixed, static_cast<long long>(full.count()));
  EXPECT_GE(killed_runs, kRuns / 2) << "most kills must land before the run ends";
  EXPECT_GT(mixed, 0) << "no kill landed while objects were being upgraded";
}

}  // namespace
}  // namespace fls::upgrade_test
