// `fls upgrade` (fls/upgrade.h) on copies of the committed version 1 store
// (tests/data/v1-store): the upgraded store, a crash after every mutating
// call, SIGKILL at random points of the real command, and an object too
// damaged to upgrade. After every interruption each object must restore
// bit-exact, and a rerun must leave a clean version 3 store:
//   - every object's manifest is version 3 with the old name, size, SHA-256,
//     mode, mtime, k, m, matrix and stripe width, and the id upgrade derives;
//   - no path-addressed manifest, no temporary and no chunk file that the
//     version 3 manifests do not place (old objects' and orphans alike);
//   - every identity says the target holds no path-addressed manifest;
//   - every object verifies healthy with all its manifest copies.
// Stores live on tmpfs when the machine has one: the crash sweep runs the
// upgrade hundreds of times and every fsync on a disk costs milliseconds.
#include "fls/upgrade.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "archive_test_util.h"
#include "fls/fault_injection_env.h"
#include "fls/sha256.h"
#include "host/archive/target_identity.h"
#include "service/pack.h"
#include "test_paths.h"

namespace fls {
namespace {

namespace fs = std::filesystem;
using testing::CmdResult;
using testing::ReadFile;
using testing::TempDir;

const std::vector<std::string> kFiles = {"empty",     "small.bin",       "multi.bin",
                                         "exact.bin", "vandermonde.bin", "k6m3.bin"};
const std::vector<std::string> kMembers = {"a.txt", "b.txt", "c.txt"};

std::string FastBase() {
  std::error_code ec;
  return fs::is_directory("/dev/shm", ec) ? "/dev/shm" : fs::temp_directory_path().string();
}

CmdResult Fls(const std::string& args) {
  return testing::Shell(std::string(FLS_BINARY) + " " + args);
}

std::string Sha256Of(const std::string& bytes) {
  Sha256 h;
  h.Update(bytes.data(), bytes.size());
  return h.FinishHex();
}

// What upgrade must keep of an object.
struct Kept {
  ObjectId id{};
  std::uint64_t size = 0, stripe_width = 0;
  std::string sha256;
  std::uint32_t mode = 0;
  std::int64_t mtime_ns = 0;
  int k = 0, m = 0;
  MatrixKind matrix = MatrixKind::kCauchy;
};

Kept KeptOf(const Manifest& mf) {
  return {mf.id, mf.size, mf.stripe_width, mf.sha256, mf.mode, mf.mtime_ns, mf.k, mf.m, mf.matrix};
}

// A copy of the fixture in a temporary directory.
class FixtureCopy {
 public:
  FixtureCopy() {
    const fs::path src = fs::path(FLS_TEST_DATA_DIR) / "v1-store";
    fs::copy(src, dir_.path(), fs::copy_options::recursive);
    fs::create_directories(scratch());
    fs::create_directories(dir_ / "out");
  }
  std::string root() const { return dir_.path(); }
  std::string config() const { return dir_ / "fls-store.yaml"; }
  std::string scratch() const { return dir_ / "scratch"; }
  std::string out(const std::string& name) const { return dir_ / ("out/" + name); }
  std::string src(const std::string& name) const { return dir_ / ("src/" + name); }
  std::string packed(const std::string& name) const { return dir_ / ("packed/" + name); }
  std::unique_ptr<Store> Open(Env* env = Env::Default()) const {
    std::unique_ptr<Store> store;
    Status s = Store::FromYamlFile(env, config(), &store);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return store;
  }
  // Every regular file under the targets with its size and mtime, but the
  // maintenance lock (its content names the latest holder).
  std::map<std::string, std::pair<std::uintmax_t, std::int64_t>> TargetFiles() const {
    std::map<std::string, std::pair<std::uintmax_t, std::int64_t>> files;
    for (int t = 0; t < 14; ++t) {
      char name[8];
      std::snprintf(name, sizeof name, "t%02d", t);
      for (const auto& e : fs::directory_iterator(dir_ / name))
        if (e.is_regular_file() && e.path().filename() != ".fls-maintenance.lock")
          files[e.path().string()] = {e.file_size(),
                                      e.last_write_time().time_since_epoch().count()};
    }
    return files;
  }

 private:
  TempDir dir_{FastBase()};
};

// The fixture's objects as the version 1 code wrote them, read once.
const std::map<std::string, Kept>& Originals() {
  static const std::map<std::string, Kept> originals = [] {
    FixtureCopy copy;
    std::map<std::string, Kept> out;
    for (const CatalogEntry& e : copy.Open()->ReadCatalog().objects)
      out[e.manifest.name] = KeptOf(e.manifest);
    return out;
  }();
  return originals;
}

std::string PackName() {
  for (const auto& [name, kept] : Originals())
    if (name.rfind(service::kPackPrefix, 0) == 0) return name;
  return "";
}

UpgradeOptions Options(const FixtureCopy& f) {
  UpgradeOptions o;
  o.scratch_dir = f.scratch();
  o.threads = 1;
  return o;
}

// Every object restores bit-exact: the files against src/, the pack's
// members against packed/ and the pack as a whole against its SHA-256.
void ExpectEveryObjectRestores(const FixtureCopy& f, const Store& store, const std::string& when) {
  for (const std::string& name : kFiles) {
    RestoreOptions ro;
    ro.output = f.out(name);
    ro.threads = 1;
    RestoreResult rr;
    Status s = RestoreObject(store, name, ro, &rr);
    ASSERT_TRUE(s.ok()) << when << ": " << name << ": " << s.ToString();
    EXPECT_EQ(ReadFile(f.out(name)), ReadFile(f.src(name))) << when << ": " << name;
  }
  const std::string pack = PackName();
  ASSERT_FALSE(pack.empty());
  RestoreOptions ro;
  ro.output = f.out("pack");
  ro.threads = 1;
  RestoreResult rr;
  Status s = RestoreObject(store, pack, ro, &rr);
  ASSERT_TRUE(s.ok()) << when << ": " << s.ToString();
  const std::string bytes = ReadFile(f.out("pack"));
  EXPECT_EQ(Sha256Of(bytes), Originals().at(pack).sha256) << when;
  std::vector<service::PackEntry> entries;
  std::uint64_t needed = 0;
  s = service::ParsePackTail(bytes, bytes.size(), pack, &entries, &needed);
  ASSERT_TRUE(s.ok()) << when << ": " << s.ToString();
  ASSERT_EQ(entries.size(), kMembers.size()) << when;
  for (const service::PackEntry& e : entries) {
    const std::string member = fs::path(e.name).filename().string();
    ASSERT_LE(e.offset + e.length, bytes.size()) << when << ": " << member;
    EXPECT_EQ(bytes.substr(e.offset, e.length), ReadFile(f.packed(member)))
        << when << ": " << member;
  }
}

// The clean version 3 store of the file comment.
void ExpectCleanV3Store(const FixtureCopy& f, const std::string& when) {
  std::unique_ptr<Store> store = f.Open();
  const Catalog c = store->ReadCatalog();
  EXPECT_TRUE(c.unreadable.empty()) << when;
  std::set<std::string> placed;  // chunk paths the manifests name
  std::map<std::string, Kept> found;
  for (const CatalogEntry& e : c.objects) {
    const Manifest& mf = e.manifest;
    EXPECT_EQ(mf.format_version, kManifestFormatVersion) << when << ": " << mf.name;
    found[mf.name] = KeptOf(mf);
    for (const ManifestChunk& ch : mf.chunks) placed.insert(ch.path());
    ObjectReport report;
    VerifyOptions vo;
    vo.threads = 1;
    ASSERT_TRUE(VerifyObject(*store, e, vo, &report).ok());
    EXPECT_EQ(report.health, Health::kHealthy) << when << ": " << mf.name;
    EXPECT_EQ(report.manifest_copies, report.manifest_copies_expected) << when << ": " << mf.name;
  }
  ASSERT_EQ(found.size(), Originals().size()) << when;
  for (const auto& [name, old] : Originals()) {
    ASSERT_TRUE(found.count(name)) << when << ": " << name;
    const Kept& now = found[name];
    EXPECT_EQ(now.id, UpgradedObjectId(old.id)) << when << ": " << name;
    EXPECT_EQ(now.size, old.size) << when << ": " << name;
    EXPECT_EQ(now.sha256, old.sha256) << when << ": " << name;
    EXPECT_EQ(now.mode, old.mode) << when << ": " << name;
    EXPECT_EQ(now.mtime_ns, old.mtime_ns) << when << ": " << name;
    EXPECT_EQ(now.k, old.k) << when << ": " << name;
    EXPECT_EQ(now.m, old.m) << when << ": " << name;
    EXPECT_EQ(now.matrix, old.matrix) << when << ": " << name;
    EXPECT_EQ(now.stripe_width, old.stripe_width) << when << ": " << name;
  }
  for (const auto& [path, meta] : f.TargetFiles()) {
    const std::string base = BaseName(path);
    ObjectId id;
    std::uint64_t gen = 0;
    int index = 0;
    std::string hash;
    EXPECT_FALSE(ParseManifestFileName(base, &id, &gen)) << when << ": " << path;
    EXPECT_FALSE(IsTempName(base)) << when << ": " << path;
    if (ParseChunkFileName(base, &id, &index))
      EXPECT_TRUE(placed.count(path)) << when << ": no manifest places " << path;
    if (base == internal::kTargetIdentityFile) {
      internal::TargetIdentity ti;
      ASSERT_TRUE(internal::ReadTargetIdentity(Env::Default(), DirName(path), &ti).ok());
      EXPECT_FALSE(ti.v1_objects) << when << ": " << path;
    }
  }
  EXPECT_FALSE(store->MayHoldV1()) << when;
  for (const auto& e : fs::directory_iterator(f.scratch()))
    ADD_FAILURE() << when << ": scratch file left: " << e.path();
}

TEST(Upgrade, CliUpgradesTheV1FixtureAndASecondRunChangesNothing) {
  FixtureCopy f;
  CmdResult r = Fls("upgrade " + f.config() + " --scratch " + f.scratch() + " --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(j["upgraded"].size(), Originals().size()) << r.out;
  EXPECT_EQ(j["already_v3"], 0);
  EXPECT_TRUE(j["failures"].empty()) << r.out;
  EXPECT_EQ(j["path_addressed_left"], 0);
  EXPECT_LT(j["bytes_after"].get<std::uint64_t>(), j["bytes_before"].get<std::uint64_t>());
  ExpectCleanV3Store(f, "after upgrade");
  ExpectEveryObjectRestores(f, *f.Open(), "after upgrade");

  r = Fls("verify --deep " + f.config());
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("7 object(s): 7 healthy, 0 degraded, 0 unrecoverable"), std::string::npos)
      << r.out;

  const auto before = f.TargetFiles();
  r = Fls("upgrade " + f.config() + " --scratch " + f.scratch() + " --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto again = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  EXPECT_TRUE(again["upgraded"].empty()) << r.out;
  EXPECT_EQ(again["already_v3"], Originals().size()) << r.out;
  EXPECT_EQ(again["files_removed"], 0) << r.out;
  EXPECT_EQ(f.TargetFiles(), before) << "a second upgrade changed the targets";
}

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

// The real command killed with SIGKILL at random points (fixed seed) over
// the time an uninterrupted run takes.
TEST(Upgrade, SigkillLoopLeavesEveryObjectRestorable) {
  constexpr int kRuns = 30;
  using Clock = std::chrono::steady_clock;
  std::chrono::microseconds full{};
  {
    FixtureCopy f;
    const auto t0 = Clock::now();
    CmdResult r = Fls("upgrade -q " + f.config() + " --scratch " + f.scratch());
    full = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
    ASSERT_EQ(r.rc, 0) << r.out;
  }
  std::mt19937_64 rng(20261202);
  std::uniform_int_distribution<std::int64_t> delay(0, full.count());
  int killed_runs = 0;
  for (int run = 0; run < kRuns; ++run) {
    FixtureCopy f;
    const std::chrono::microseconds after{delay(rng)};
    const std::string when =
        "run " + std::to_string(run) + " (kill after " + std::to_string(after.count()) + " us)";
    bool killed = false;
    testing::RunAndMaybeKill(
        FLS_BINARY, {"upgrade", "-q", f.config(), "--scratch", f.scratch(), "--threads", "1"},
        after, &killed);
    killed_runs += killed;
    ExpectEveryObjectRestores(f, *f.Open(), when);
    CmdResult r = Fls("upgrade -q " + f.config() + " --scratch " + f.scratch());
    ASSERT_EQ(r.rc, 0) << when << ": " << r.out;
    ExpectCleanV3Store(f, when + ", rerun");
    if (HasFatalFailure()) break;
  }
  std::printf("upgrade SIGKILL loop: %d runs, %d killed, an uninterrupted run took %lld us\n",
              kRuns, killed_runs, static_cast<long long>(full.count()));
  EXPECT_GE(killed_runs, kRuns / 2) << "most kills must land before the run ends";
}

// Five of multi.bin's fourteen chunk files deleted (m = 4): it cannot be
// restored, so it cannot be upgraded; the others are.
TEST(Upgrade, AnUnrecoverableObjectIsReportedAndLeftAsItWas) {
  FixtureCopy f;
  CatalogEntry damaged;
  ASSERT_TRUE(f.Open()->FindObject("multi.bin", &damaged).ok());
  ASSERT_EQ(damaged.manifest.m, 4);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(fs::remove(damaged.manifest.chunks[i].path()));
  std::map<std::string, std::string> files_before;  // of multi.bin: path -> bytes
  for (const auto& [path, meta] : f.TargetFiles())
    if (path.find(ObjectIdToHex(damaged.manifest.id)) != std::string::npos)
      files_before[path] = ReadFile(path);
  ASSERT_EQ(files_before.size(), 9u + damaged.copies.size());

  CmdResult r = Fls("upgrade " + f.config() + " --scratch " + f.scratch() + " --json");
  EXPECT_EQ(r.rc, 5) << r.out;
  EXPECT_NE(r.out.find("'multi.bin' not upgraded"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  ASSERT_EQ(j["failures"].size(), 1u) << r.out;
  EXPECT_EQ(j["failures"][0]["name"], "multi.bin");
  EXPECT_NE(j["failures"][0]["error"].get<std::string>().find("Unrecoverable"), std::string::npos)
      << r.out;
  EXPECT_EQ(j["upgraded"].size(), Originals().size() - 1) << r.out;
  EXPECT_EQ(j["path_addressed_left"], damaged.copies.size()) << r.out;

  std::map<std::string, std::string> files_after;
  for (const auto& [path, meta] : f.TargetFiles())
    if (path.find(ObjectIdToHex(damaged.manifest.id)) != std::string::npos)
      files_after[path] = ReadFile(path);
  EXPECT_EQ(files_after, files_before) << "the damaged object's files changed";

  std::unique_ptr<Store> store = f.Open();
  CatalogEntry now;
  ASSERT_TRUE(store->FindObject("multi.bin", &now).ok()) << "a lookup no longer finds it";
  EXPECT_EQ(now.manifest.format_version, kManifestFormatVersion1);
  for (const CatalogEntry& e : store->ReadCatalog().objects)
    if (e.manifest.name != "multi.bin")
      EXPECT_EQ(e.manifest.format_version, kManifestFormatVersion) << e.manifest.name;
  r = Fls("restore " + f.config() + " small.bin -o " + f.out("small.bin"));
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(ReadFile(f.out("small.bin")), ReadFile(f.src("small.bin")));
}

}  // namespace
}  // namespace fls
