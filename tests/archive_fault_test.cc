// Fault injection through the Env seam: failed writes, fsyncs and renames
// leave nothing behind; a crash at any point leaves the old state or the new,
// never a mix.
#include <gtest/gtest.h>

#include <cerrno>

#include "archive_test_util.h"
#include "fls/archive.h"
#include "fls/fault_injection_env.h"

namespace fls {
namespace {

using testing::ReadFile;
using testing::TempDir;

constexpr std::uint64_t kW = 10000;

struct FaultFixture {
  TempDir dir;
  FaultInjectionEnv env{Env::Default()};
  std::unique_ptr<Store> store;
  std::string data;
  // Large blocks (200 KB) reach the files as separate writes, so a write
  // fault lands in the middle of a chunk.
  std::uint64_t stripe = kW;
  explicit FaultFixture(std::size_t size = 12 * kW + 77, std::uint64_t stripe_width = kW)
      : stripe(stripe_width) {
    store = testing::MakeStore(dir / "s", 14, &env);
    data = testing::RandomBytes(size, 11);
    testing::WriteFile(dir / "in", data);
  }
  Status Archive(const std::string& name = "obj") {
    ArchiveOptions o;
    o.stripe_width = stripe;
    o.name = name;
    o.backend = "isal";
    o.threads = 1;
    ArchiveResult r;
    return ArchiveFile(*store, dir / "in", o, &r);
  }
  // Nothing of a failed archive may remain: no manifest, no chunk, no temporary.
  void ExpectNothingLeft() {
    EXPECT_TRUE(store->ReadCatalog().objects.empty());
    for (const auto& f : testing::AllFiles(dir / "s")) ADD_FAILURE() << "left behind: " << f;
  }
};

void ExpectNamesTarget(const Status& s, const std::string& target) {
  EXPECT_NE(s.message().find(target), std::string::npos) << s.ToString();
}

TEST(ArchiveFaults, NoSpaceMidArchiveLeavesNothingAndNamesTheTarget) {
  FaultFixture f(5 << 20, 2000000);
  FaultRule rule;
  rule.op = FaultOp::kWrite;
  rule.path_contains = "/t3/";
  rule.succeed_first = 1;  // the second write: a block in the middle of the chunk
  rule.error = ENOSPC;
  f.env.AddRule(rule);
  Status s = f.Archive();
  EXPECT_EQ(s.code(), Status::Code::kNoSpace) << s.ToString();
  ExpectNamesTarget(s, f.dir / "s/t3");
  EXPECT_EQ(f.env.faults_injected(), 1);
  f.ExpectNothingLeft();
}

TEST(ArchiveFaults, ShortWriteAndIoErrorOnWriteLeaveNothing) {
  FaultFixture f(5 << 20, 2000000);
  FaultRule rule;
  rule.op = FaultOp::kWrite;
  rule.path_contains = "/t7/";
  rule.succeed_first = 2;  // the final flush of the chunk
  rule.short_write = true;
  f.env.AddRule(rule);
  Status s = f.Archive();
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  ExpectNamesTarget(s, f.dir / "s/t7");
  f.ExpectNothingLeft();
}

TEST(ArchiveFaults, FailedFsyncFailsTheJob) {
  FaultFixture f;
  FaultRule rule;
  rule.op = FaultOp::kSync;
  rule.path_contains = "/t12/";
  f.env.AddRule(rule);
  Status s = f.Archive();
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  ExpectNamesTarget(s, f.dir / "s/t12");
  f.ExpectNothingLeft();
}

TEST(ArchiveFaults, FailedManifestWriteRollsBackEverything) {
  FaultFixture f;
  FaultRule rule;
  rule.op = FaultOp::kRename;
  rule.path_contains = ".manifest";
  rule.succeed_first = 3;  // 3 of the m + 1 = 5 copies committed, then the 4th fails
  f.env.AddRule(rule);
  Status s = f.Archive();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("manifest"), std::string::npos) << s.ToString();
  f.ExpectNothingLeft();
  // The same store works again once the fault is gone.
  f.env.ClearRules();
  ASSERT_TRUE(f.Archive().ok());
  EXPECT_EQ(f.store->ReadCatalog().objects.size(), 1u);
}

TEST(ArchiveFaults, RepairFailureLeavesTheOldGenerationIntact) {
  FaultFixture f;
  ASSERT_TRUE(f.Archive().ok());
  CatalogEntry e;
  ASSERT_TRUE(f.store->FindObject("obj", &e).ok());
  testing::fs::remove(e.manifest.chunks[2].path());
  // The target that chunk 2 is rebuilt on (in place) is full.
  const std::string full = e.manifest.chunks[2].target;
  FaultRule rule;
  rule.op = FaultOp::kWrite;
  rule.path_contains = full + "/";
  rule.error = ENOSPC;
  f.env.AddRule(rule);
  RepairResult r;
  RepairOptions o;
  Status s = RepairObject(*f.store, e, o, &r);
  EXPECT_EQ(s.code(), Status::Code::kNoSpace) << s.ToString();
  ExpectNamesTarget(s, full);
  CatalogEntry after;
  ASSERT_TRUE(f.store->FindObject("obj", &after).ok());
  EXPECT_EQ(after.manifest.generation, 1u);
  for (const auto& name : testing::FilesIn(full)) EXPECT_FALSE(IsTempName(name)) << name;
}

// Crash at every mutating step of an archive, then reboot (drop what was not
// durable): either no object is visible, or it restores bit-exact.
TEST(ArchiveFaults, CrashAtAnyStepLeavesOldOrNewState) {
  int total = 0;
  {
    FaultFixture probe;
    ASSERT_TRUE(probe.Archive().ok());
    total = probe.env.mutating_calls();
  }
  ASSERT_GT(total, 30);
  int saw_old = 0, saw_new = 0;
  for (int point = 0; point <= total; point += std::max(1, total / 60)) {
    FaultFixture f;
    f.env.SetCrashPoint(point);
    Status s = f.Archive();
    ASSERT_TRUE(f.env.DropUnsyncedData().ok());
    const Catalog c = f.store->ReadCatalog();
    if (c.objects.empty()) {
      ++saw_old;
      EXPECT_FALSE(s.ok()) << "archive reported success but nothing survived the crash";
      continue;
    }
    ++saw_new;
    ASSERT_EQ(c.objects.size(), 1u);
    RestoreOptions ro;
    ro.output = f.dir / "out";
    RestoreResult rr;
    Status rs = RestoreObject(*f.store, "obj", ro, &rr);
    ASSERT_TRUE(rs.ok()) << "crash point " << point << ": " << rs.ToString();
    EXPECT_EQ(ReadFile(f.dir / "out"), f.data) << "crash point " << point;
    EXPECT_TRUE(rr.problems.empty()) << "crash point " << point << ": chunks lost after commit";
  }
  EXPECT_GT(saw_old, 0);
  EXPECT_GT(saw_new, 0);
}

// A crash during repair leaves the object restorable, at generation 1 or 2.
TEST(ArchiveFaults, CrashDuringRepairKeepsTheObject) {
  int total = 0;
  for (int point = 0;; point += 3) {
    FaultFixture f;
    ASSERT_TRUE(f.Archive().ok());
    CatalogEntry e;
    ASSERT_TRUE(f.store->FindObject("obj", &e).ok());
    testing::fs::remove(e.manifest.chunks[5].path());
    testing::fs::remove(e.manifest.chunks[11].path());
    ASSERT_TRUE(f.env.DropUnsyncedData().ok());  // the archive itself is durable
    f.env.SetCrashPoint(point);
    RepairResult r;
    RepairOptions o;
    const Status s = RepairObject(*f.store, e, o, &r);
    ASSERT_TRUE(f.env.DropUnsyncedData().ok());
    CatalogEntry after;
    ASSERT_TRUE(f.store->FindObject("obj", &after).ok()) << "crash point " << point;
    RestoreOptions ro;
    ro.output = f.dir / "out";
    RestoreResult rr;
    ASSERT_TRUE(RestoreObject(*f.store, "obj", ro, &rr).ok()) << "crash point " << point;
    EXPECT_EQ(ReadFile(f.dir / "out"), f.data);
    if (s.ok()) {
      EXPECT_EQ(after.manifest.generation, 2u);
      EXPECT_TRUE(rr.problems.empty());
      break;
    }
    ASSERT_LT(++total, 100);
  }
}

}  // namespace
}  // namespace fls
