// Interrupted deletes and compactions: a crash after every mutating call
// (FaultInjectionEnv: every live file restores bit-exact, every deleted one
// stays gone, one repair sweep leaves no file of them or of old packs), and
// `fls rm` / `fls compact` killed with SIGKILL at random points, 30 runs
// each. Counts go to stdout.
#include <chrono>
#include <random>

#include "delete_test_util.h"
#include "fls/fault_injection_env.h"
#include "test_paths.h"

namespace fls::delete_test {
namespace {

TEST(Delete, CrashAtAnyStepLeavesEachNameWholeOrGone) {
  const std::vector<std::string> victims = {"obj/0", "obj/1", "small/2", "small/5"};
  int total = 0;
  {
    FaultInjectionEnv env(Env::Default());
    Fixture probe(3, 8, &env);
    ASSERT_TRUE(probe.ArchiveAll().ok());
    const int before = env.mutating_calls();
    ASSERT_TRUE(probe.Delete(victims).ok());
    total = env.mutating_calls() - before;
  }
  ASSERT_GT(total, 10);
  int gone_seen = 0, whole_seen = 0, points = 0;
  // Every point through the first name's delete, then a stride (each run
  // archives a fresh store: the whole range would take minutes).
  for (int point = 0; point <= total; point += point < 40 ? 1 : std::max(1, total / 40)) {
    ++points;
    const std::string when =
        "crash point " + std::to_string(point) + " of " + std::to_string(total);
    FaultInjectionEnv env(Env::Default());
    Fixture f(3, 8, &env);
    ASSERT_TRUE(f.ArchiveAll().ok());
    std::map<std::string, std::string> ids;
    for (const std::string& v : victims) ids[v] = IdOf(*f.store, v);
    env.SetCrashPoint(point);
    f.Delete(victims);
    ASSERT_TRUE(env.DropUnsyncedData().ok());
    env.SetCrashPoint(-1);
    std::set<std::string> gone;
    for (const std::string& v : victims) {
      std::string got;
      Status s = f.Read(v, &got);
      if (s.code() == Status::Code::kNotFound) {
        gone.insert(v);
      } else {
        ASSERT_TRUE(s.ok()) << when << ": " << v << ": " << s.ToString();
        ASSERT_TRUE(got == f.files[v]) << when << ": " << v;
      }
    }
    gone_seen += static_cast<int>(gone.size());
    whole_seen += static_cast<int>(victims.size() - gone.size());
    ExpectLiveAndGone(f, gone, when);
    ASSERT_TRUE(RepairSweep(*f.store).ok()) << when;
    ExpectLiveAndGone(f, gone, when + ", after sweep");
    std::map<std::string, std::string> gone_ids;
    for (const std::string& g : gone) gone_ids[g] = ids[g];
    ExpectNoFilesOf(f, gone_ids, when + ", after sweep");
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(gone_seen, 0);
  EXPECT_GT(whole_seen, 0);
  std::printf("delete crash sweep: %d of %d crash points\n", points, total + 1);
}

TEST(Compact, CrashAtAnyStepKeepsEveryLiveFile) {
  auto setup = [](Fixture& f, std::vector<std::string>* victims) {
    ASSERT_TRUE(f.ArchiveAll().ok());
    for (std::size_t i = 0; i < f.packed.size(); i += 3) victims->push_back(f.packed[i]);
    ASSERT_TRUE(f.Delete(*victims).ok());
  };
  CompactOptions co;
  co.min_age_ns = 0;
  co.min_dead = 0.2;
  co.archive = Options();
  int total = 0;
  {
    FaultInjectionEnv env(Env::Default());
    Fixture probe(0, 12, &env);
    std::vector<std::string> v;
    setup(probe, &v);
    const int before = env.mutating_calls();
    CompactReport r;
    ASSERT_TRUE(CompactStore(*probe.store, co, &r).ok());
    ASSERT_EQ(r.packs_rewritten, 1u);
    total = env.mutating_calls() - before;
  }
  ASSERT_GT(total, 30);
  int points = 0;
  for (int point = 0; point <= total; point += point < 60 ? 1 : std::max(1, total / 40)) {
    ++points;
    const std::string when =
        "crash point " + std::to_string(point) + " of " + std::to_string(total);
    FaultInjectionEnv env(Env::Default());
    Fixture f(0, 12, &env);
    std::vector<std::string> victims;
    setup(f, &victims);
    std::vector<std::string> old_packs;
    CatalogWalk walk;
    f.store->WalkCatalog(
        [&](CatalogEntry& e) {
          old_packs.push_back(ObjectIdToHex(e.manifest.id));
          return true;
        },
        &walk);
    env.SetCrashPoint(point);
    CompactReport r;
    CompactStore(*f.store, co, &r);
    ASSERT_TRUE(env.DropUnsyncedData().ok());
    env.SetCrashPoint(-1);
    const std::set<std::string> gone(victims.begin(), victims.end());
    ExpectLiveAndGone(f, gone, when);
    ASSERT_TRUE(RepairSweep(*f.store).ok());
    ExpectLiveAndGone(f, gone, when + ", after sweep");
    // Finish the compaction, then no chunk of the old pack remains.
    ASSERT_TRUE(CompactStore(*f.store, co, &r).ok()) << when;
    ASSERT_TRUE(RepairSweep(*f.store).ok());
    for (const std::string& id : old_packs) EXPECT_EQ(f.FilesNaming(id), 0) << when;
    ExpectLiveAndGone(f, gone, when + ", after rerun");
    if (HasFatalFailure()) return;
  }
  std::printf("compact crash sweep: %d of %d crash points\n", points, total + 1);
}

TEST(DeleteCli, SigkillLoops) {
  constexpr int kRuns = 30;
  std::mt19937_64 rng(20261203);
  for (const std::string cmd : {"rm", "compact"}) {
    int killed_runs = 0;
    for (int run = 0; run < kRuns; ++run) {
      Fixture f(2, 40);
      ASSERT_TRUE(f.ArchiveAll().ok());
      std::vector<std::string> victims = {"obj/0"};
      for (std::size_t i = 0; i < f.packed.size(); i += 2) victims.push_back(f.packed[i]);
      std::vector<std::string> args = {cmd, "-q"};
      for (const Target& t : f.store->targets()) args.insert(args.end(), {"--target", t.path});
      if (cmd == "rm") {
        args.insert(args.end(), victims.begin(), victims.end());
      } else {
        ASSERT_TRUE(f.Delete(victims).ok());
        args.insert(args.end(), {"--min-age", "0", "--min-dead", "10", "--backend", "isal"});
      }
      bool killed = false;
      std::uniform_int_distribution<int> delay(0, 120000);
      testing::RunAndMaybeKill(FLS_BINARY, args, std::chrono::microseconds(delay(rng)), &killed);
      killed_runs += killed;
      const std::string when = cmd + " run " + std::to_string(run);
      std::set<std::string> gone;
      for (const std::string& v : victims) {
        std::string got;
        if (f.Read(v, &got).code() == Status::Code::kNotFound) gone.insert(v);
      }
      if (cmd == "compact") EXPECT_EQ(gone.size(), victims.size()) << when;
      ExpectLiveAndGone(f, gone, when);
      ASSERT_TRUE(RepairSweep(*f.store).ok());
      ExpectLiveAndGone(f, gone, when + ", after sweep");
      if (HasFatalFailure()) return;
    }
    std::printf("fls %s SIGKILL loop: %d runs, %d killed\n", cmd.c_str(), kRuns, killed_runs);
    EXPECT_GE(killed_runs, kRuns / 3) << cmd;
  }
}

}  // namespace
}  // namespace fls::delete_test
