// The repair sweep end to end: a store of many small objects over 16 targets
// in 4 domains loses a whole target and has 1% of its other blocks corrupted;
// one sweep must leave every object verifying healthy and restoring
// bit-exact, in few batched backend calls; a sweep SIGKILLed halfway resumes;
// stripes with more than m bad blocks are named unrecoverable; --rate paces.
//
// Built twice: as sweep_test (label e2e, 200 objects: about 20 s in all) and
// as sweep_scale_test (label slow, FLS_SWEEP_OBJECTS=2000: 60 to 105 s per
// scenario on the loaded 2-vCPU dev VM, most of it building the store and
// checking every object afterwards; the sweep itself took 16 s).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "fls/crc32c.h"
#include "fls/health_db.h"
#include "sweep_test_util.h"
#include "test_paths.h"

namespace fls {
namespace {

#ifndef FLS_SWEEP_OBJECTS
#define FLS_SWEEP_OBJECTS 200
#endif
constexpr int kObjects = FLS_SWEEP_OBJECTS;
constexpr int kLost = 5;  // the target whose directory disappears

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Verify (and so every sweep) combines the block CRCs into the whole-chunk
// CRC instead of hashing every byte twice.
TEST(Crc32cCombinerTest, MatchesTheCrcOfTheJoinedBytes) {
  for (std::size_t len : {1u, 4u, 100u, 4100u, 65540u, 1048580u}) {
    const std::string a = testing::RandomBytes(777, len), b = testing::RandomBytes(len, len + 1);
    const Crc32cCombiner c(len);
    EXPECT_EQ(c.Combine(Crc32c(a.data(), a.size()), Crc32c(b.data(), b.size())),
              Crc32c((a + b).data(), a.size() + b.size()))
        << len;
  }
}

TEST(SweepTest, LostTargetAndCorruptBlocksOneSweepHealsAll) {
  testing::SweepStore s;
  auto t0 = Clock::now();
  testing::BuildSweepStore(&s, kObjects);
  const double build_s = Since(t0);
  const std::string lost = s.store->targets()[kLost].path;
  const int flipped = testing::DamageStore(*s.store, kLost, 1, 11);
  EXPECT_GT(flipped, 0);

  std::unique_ptr<HealthDb> db;
  ASSERT_TRUE(HealthDb::Open(s.dir / "health.db", &db).ok());
  SweepOptions o;
  o.backend = "isal";
  o.db = db.get();
  SweepReport r;
  t0 = Clock::now();
  ASSERT_TRUE(RunSweep(*s.store, o, &r).ok());
  const double sweep_s = Since(t0);
  EXPECT_EQ(r.objects_scanned, static_cast<std::uint64_t>(kObjects));
  EXPECT_TRUE(r.unrecoverable.empty());
  EXPECT_TRUE(r.failed.empty()) << r.failed.front();
  EXPECT_GT(r.damaged, static_cast<std::uint64_t>(kObjects / 2));  // 14 of 16 targets per object
  EXPECT_EQ(r.rebuilt, r.damaged);
  EXPECT_GT(r.bytes_read, 0u);
  // Batching: far fewer backend calls than objects rebuilt, several objects
  // per call.
  EXPECT_LT(r.backend_calls * 2, r.rebuilt);
  EXPECT_GT(r.max_objects_per_call, 1u);

  // Per-target health: the lost one unreachable, others reachable.
  std::vector<TargetHealth> targets;
  ASSERT_TRUE(db->LoadTargets(&targets).ok());
  ASSERT_EQ(targets.size(), 16u);
  for (const TargetHealth& t : targets) EXPECT_EQ(t.reachable, t.path != lost) << t.path;
  std::vector<ObjectHealth> at_risk;
  ASSERT_TRUE(db->LoadAtRisk(&at_risk).ok());
  EXPECT_TRUE(at_risk.empty());  // all repaired

  t0 = Clock::now();
  testing::ExpectAllHealthy(s, lost);
  std::printf(
      "sweep-test: %d objects, %d blocks flipped + target %d lost; build %.1f s, sweep "
      "%.2f s (%llu rebuilt, %llu backend calls, up to %llu objects per call), check %.1f s\n",
      kObjects, flipped, kLost, build_s, sweep_s, static_cast<unsigned long long>(r.rebuilt),
      static_cast<unsigned long long>(r.backend_calls),
      static_cast<unsigned long long>(r.max_objects_per_call), Since(t0));

  // A second sweep finds nothing to do.
  SweepReport again;
  ASSERT_TRUE(RunSweep(*s.store, o, &again).ok());
  EXPECT_EQ(again.healthy, static_cast<std::uint64_t>(kObjects));
  EXPECT_EQ(again.rebuilt, 0u);
  EXPECT_FALSE(again.resumed);
}

TEST(SweepTest, MoreThanMBadBlocksAreNamedUnrecoverableRestRepaired) {
  testing::SweepStore s;
  testing::BuildSweepStore(&s, kObjects);
  const std::string lost = s.store->targets()[kLost].path;
  // Two objects get m + 1 bad blocks in stripe 0 (the lost target counts).
  std::set<std::string> doomed;
  for (const CatalogEntry& e : s.store->ReadCatalog().objects) {
    if (doomed.size() == 2) break;
    const Manifest& mf = e.manifest;
    if (mf.stripes == 0) continue;
    int bad = 0;
    for (const ManifestChunk& c : mf.chunks) bad += c.target == lost;
    for (int i = 0; i < mf.k + mf.m && bad <= mf.m; ++i) {
      if (mf.chunks[i].target == lost) continue;
      testing::FlipBlock(mf, i, 0, 17 + i);
      ++bad;
    }
    doomed.insert(mf.name);
  }
  testing::DamageStore(*s.store, kLost, 0, 1);  // only the lost target
  SweepOptions o;
  o.backend = "isal";
  SweepReport r;
  ASSERT_TRUE(RunSweep(*s.store, o, &r).ok());
  std::set<std::string> named(r.unrecoverable.begin(), r.unrecoverable.end());
  EXPECT_EQ(named, doomed);
  EXPECT_TRUE(r.failed.empty());
  EXPECT_EQ(r.rebuilt, r.damaged);
  testing::ExpectAllHealthy(s, lost, doomed);
}

TEST(SweepTest, VerifyOnlyChangesNothingAndRecordsAtRiskObjects) {
  testing::SweepStore s;
  testing::BuildSweepStore(&s, 60);
  const std::string lost = s.store->targets()[kLost].path;
  testing::DamageStore(*s.store, kLost, 3, 5);
  const auto before = testing::AllFiles(s.dir / "store");
  std::unique_ptr<HealthDb> db;
  ASSERT_TRUE(HealthDb::Open(s.dir / "health.db", &db).ok());
  SweepOptions o;
  o.verify_only = true;
  o.db = db.get();
  SweepReport r;
  ASSERT_TRUE(RunSweep(*s.store, o, &r).ok());
  EXPECT_GT(r.damaged, 0u);
  EXPECT_EQ(r.rebuilt, 0u);
  EXPECT_EQ(r.backend_calls, 0u);
  EXPECT_EQ(testing::AllFiles(s.dir / "store"), before);
  std::vector<ObjectHealth> at_risk;
  ASSERT_TRUE(db->LoadAtRisk(&at_risk).ok());
  EXPECT_EQ(at_risk.size(), r.damaged);
  for (std::size_t i = 1; i < at_risk.size(); ++i)
    EXPECT_LE(at_risk[i - 1].spare, at_risk[i].spare);  // most at risk first
  ASSERT_FALSE(at_risk.empty());
  EXPECT_LT(at_risk.front().spare, 3);  // a lost chunk plus a flipped block
}

// A target of the store holding no chunk of `mf`.
std::string TargetWithoutChunksOf(const Store& store, const Manifest& mf) {
  for (const Target& t : store.targets()) {
    bool used = false;
    for (const ManifestChunk& c : mf.chunks) used = used || c.target == t.path;
    if (!used) return t.path;
  }
  return "";
}

// What an interrupted repair or rebalance leaves: a chunk file copied to a
// target its manifest does not place it on (the placed copy good), and one
// whose placed copy is gone so that only the moved file is left. A repair
// sweep removes the first, rebuilds the second where the manifest places it
// (it was "misplaced"), and the next one removes what is then left over.
TEST(SweepTest, RepairSweepClearsLeftoversOfInterruptedRuns) {
  testing::SweepStore s;
  testing::BuildSweepStore(&s, 20);
  const Catalog c = s.store->ReadCatalog();
  const Manifest& a = c.objects[0].manifest;
  const Manifest& b = c.objects[1].manifest;
  const std::string leftover = TargetWithoutChunksOf(*s.store, a) + "/" + a.chunks[3].file;
  fs::copy_file(a.chunks[3].path(), leftover);
  const std::string moved = TargetWithoutChunksOf(*s.store, b) + "/" + b.chunks[5].file;
  fs::rename(b.chunks[5].path(), moved);

  SweepOptions o;
  o.verify_only = true;
  o.backend = "isal";
  SweepReport r;
  ASSERT_TRUE(RunSweep(*s.store, o, &r).ok());
  EXPECT_EQ(r.damaged, 1u) << "the misplaced chunk makes its object degraded";
  EXPECT_TRUE(fs::exists(leftover));
  ObjectReport before;
  ASSERT_TRUE(VerifyObject(*s.store, c.objects[1], VerifyOptions{}, &before).ok());
  EXPECT_EQ(before.chunks[5].state, "misplaced");
  EXPECT_EQ(before.chunks[5].path, moved);

  o.verify_only = false;
  ASSERT_TRUE(RunSweep(*s.store, o, &r).ok());
  EXPECT_NE(std::find(r.cleaned.begin(), r.cleaned.end(), leftover), r.cleaned.end());
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_EQ(r.rebuilt, 1u);
  ASSERT_TRUE(RunSweep(*s.store, o, &r).ok());
  EXPECT_EQ(r.damaged, 0u);
  // Now every chunk file on the targets is one a manifest places.
  std::set<std::string> placed;
  for (const CatalogEntry& e : s.store->ReadCatalog().objects)
    for (const ManifestChunk& ch : e.manifest.chunks) placed.insert(ch.path());
  for (const Target& t : s.store->targets())
    for (const auto& f : fs::directory_iterator(t.path)) {
      ObjectId id;
      int index = 0;
      const std::string name = f.path().filename().string();
      EXPECT_FALSE(IsTempName(name)) << f.path();
      if (ParseChunkFileName(name, &id, &index))
        EXPECT_TRUE(placed.count(f.path().string())) << "leftover: " << f.path();
    }
  testing::ExpectAllHealthy(s, "");
}

TEST(SweepTest, RateLimitPacesReads) {
  testing::SweepStore s;
  testing::BuildSweepStore(&s, 20);
  SweepOptions o;
  o.verify_only = true;
  SweepReport fast;
  ASSERT_TRUE(RunSweep(*s.store, o, &fast).ok());
  // A rate at which the bytes take 0.6 s.
  o.rate_bytes_per_s = static_cast<std::uint64_t>(fast.bytes_read / 0.6);
  SweepReport slow;
  ASSERT_TRUE(RunSweep(*s.store, o, &slow).ok());
  EXPECT_EQ(slow.bytes_read, fast.bytes_read);
  EXPECT_GE(slow.seconds, 0.55) << "unpaced: " << fast.seconds << " s";
  EXPECT_LT(slow.seconds, 10.0);
}

// Runs `fls sweep ... --db DB`, SIGKILLs it once the health database shows a
// third of the objects done (or after a bounded wait, whatever is done by
// then: a loaded machine may be slow), and returns whether the kill landed
// before the end. `done_at_kill` gets the objects the database showed done.
bool SweepKilledHalfway(const std::vector<std::string>& args, const std::string& db_path,
                        long long* done_at_kill) {
  std::vector<std::string> argv_s = {FLS_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  const pid_t pid = testing::SpawnQuiet(argv_s);
  EXPECT_GT(pid, 0);
  const auto deadline = Clock::now() + std::chrono::seconds(300);
  int status = 0;
  long long done = 0;
  while (Clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return false;  // finished first
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_stmt* st = nullptr;
      if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sweep_done", -1, &st, nullptr) ==
              SQLITE_OK &&
          sqlite3_step(st) == SQLITE_ROW)
        done = sqlite3_column_int64(st, 0);
      sqlite3_finalize(st);
    }
    sqlite3_close(db);
    if (done >= kObjects / 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  *done_at_kill = done;
  ::waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

TEST(SweepTest, SweepKilledHalfwayResumesAndHealsAll) {
  testing::SweepStore s;
  testing::BuildSweepStore(&s, kObjects);
  const std::string lost = s.store->targets()[kLost].path;
  testing::DamageStore(*s.store, kLost, 1, 23);
  const std::string db = s.dir / "health.db";
  std::vector<std::string> args = {"sweep", "--db",      db,     "--window",
                                   "8",     "--backend", "isal", "--json"};
  for (const auto& t : s.target_specs) {
    args.push_back("--target");
    args.push_back(t);
  }
  long long done_at_kill = 0;
  ASSERT_TRUE(SweepKilledHalfway(args, db, &done_at_kill))
      << "the sweep ended before it could be killed";
  ASSERT_GT(done_at_kill, 0) << "killed before the first window was recorded";
  std::string cmd = FLS_BINARY;
  for (std::size_t i = 0; i < args.size(); ++i) cmd += " '" + args[i] + "'";
  const testing::CmdResult res = testing::Shell(cmd);
  ASSERT_EQ(res.rc, 0) << res.out;
  const auto j = nlohmann::json::parse(res.out.substr(res.out.find('{')));
  EXPECT_TRUE(j["resumed"].get<bool>()) << res.out;
  // Everything recorded done before the kill is skipped on resume (windows
  // commit whole, so the database never shows more than was finished).
  EXPECT_GE(j["skipped"].get<int>(), done_at_kill) << res.out;
  EXPECT_EQ(j["skipped"].get<int>() + j["scanned"].get<int>(), kObjects) << res.out;
  EXPECT_TRUE(j["unrecoverable"].empty()) << res.out;
  std::printf("sweep-kill: resumed after %d of %d objects\n", j["skipped"].get<int>(), kObjects);
  std::fflush(stdout);
  testing::ExpectAllHealthy(s, lost);
}

// The operator's view: `fls targets` names the lost target, `fls ls
// --degraded` lists the objects at risk, most at risk first, and deleting the
// health database loses nothing (`targets --rescan` fills it again).
TEST(SweepTest, TargetsAndLsDegradedShowTheDamage) {
  testing::SweepStore s;
  testing::BuildSweepStore(&s, 40);
  testing::DamageStore(*s.store, kLost, 3, 29);
  const std::string db = s.dir / "health.db";
  std::string store_args = " --db '" + db + "'";
  for (const auto& t : s.target_specs) store_args += " --target '" + t + "'";
  const std::string fls = FLS_BINARY;
  testing::CmdResult r = testing::Shell(fls + " sweep --verify-only --json" + store_args);
  EXPECT_EQ(r.rc, 4) << r.out;  // damage found, nothing changed
  r = testing::Shell(fls + " targets" + store_args);
  EXPECT_EQ(r.rc, 4) << r.out;
  EXPECT_NE(r.out.find("UNREACHABLE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(s.store->targets()[kLost].path), std::string::npos) << r.out;
  r = testing::Shell(fls + " ls --degraded --json" + store_args);
  ASSERT_GE(r.rc, 4) << r.out;
  std::vector<int> spares;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    const auto j = nlohmann::json::parse(line);
    spares.push_back(j["spare"].get<int>());
  }
  ASSERT_GT(spares.size(), 30u) << r.out;  // 14 of 16 targets per object: most lost a chunk
  EXPECT_TRUE(std::is_sorted(spares.begin(), spares.end())) << r.out;
  EXPECT_LT(spares.front(), 3) << r.out;  // a lost chunk and a flipped block in one stripe
  std::filesystem::remove(db);
  r = testing::Shell(fls + " targets --rescan --json" + store_args);
  EXPECT_EQ(r.rc, 4) << r.out;
  int chunks = 0;
  std::istringstream rows(r.out);
  for (std::string line; std::getline(rows, line);)
    if (!line.empty() && line[0] == '{') chunks += nlohmann::json::parse(line)["chunks"].get<int>();
  EXPECT_EQ(chunks, 40 * 14) << r.out;
  // A repair sweep heals it; ls --degraded is then empty.
  r = testing::Shell(fls + " sweep" + store_args);
  EXPECT_EQ(r.rc, 0) << r.out;
  r = testing::Shell(fls + " ls --degraded --json" + store_args);
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out.find('{'), std::string::npos) << r.out;
}

}  // namespace
}  // namespace fls
