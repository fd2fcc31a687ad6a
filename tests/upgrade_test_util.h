// Shared by the `fls upgrade` tests (upgrade_test.cc, upgrade_crash_test.cc):
// copies of the committed version 1 store (tests/data/v1-store) and the
// checks every upgrade, interrupted or not, must pass:
//   - every object restores bit-exact (the files against src/, the pack's
//     members against packed/, the pack against its SHA-256);
//   - a clean version 3 store: every object's manifest is version 3 with the
//     old name, size, SHA-256, mode, mtime, k, m, matrix and stripe width, and
//     the id upgrade derives; no path-addressed manifest, no temporary, no
//     chunk file that the version 3 manifests do not place (old objects' and
//     orphans alike); every identity says the target holds no path-addressed
//     manifest; every object verifies healthy with all its manifest copies;
//     no scratch file left.
// Stores live on tmpfs when the machine has one: the crash tests run the
// upgrade hundreds of times and every fsync on a disk costs milliseconds.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "archive_test_util.h"
#include "fls/pack.h"
#include "fls/sha256.h"
#include "fls/upgrade.h"
#include "host/archive/target_identity.h"
#include "test_paths.h"

namespace fls::upgrade_test {

namespace fs = std::filesystem;
using testing::CmdResult;
using testing::ReadFile;
using testing::TempDir;

inline const std::vector<std::string> kFiles = {"empty",     "small.bin",       "multi.bin",
                                                "exact.bin", "vandermonde.bin", "k6m3.bin"};
inline const std::vector<std::string> kMembers = {"a.txt", "b.txt", "c.txt"};

inline std::string FastBase() {
  std::error_code ec;
  return fs::is_directory("/dev/shm", ec) ? "/dev/shm" : fs::temp_directory_path().string();
}

inline CmdResult Fls(const std::string& args) {
  return testing::Shell(std::string(FLS_BINARY) + " " + args);
}

inline std::string Sha256Of(const std::string& bytes) {
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

inline Kept KeptOf(const Manifest& mf) {
  return {mf.id, mf.size, mf.stripe_width, mf.sha256, mf.mode, mf.mtime_ns, mf.k, mf.m, mf.matrix};
}

// A copy of the fixture in a temporary directory.
class FixtureCopy {
 public:
  FixtureCopy() {
    // The fixture's manifests name targets under /tmp/fls-v1-fixture: were it
    // there, reads could come from it and prove nothing (v1_fixture_test.cc).
    EXPECT_FALSE(fs::exists("/tmp/fls-v1-fixture")) << "remove /tmp/fls-v1-fixture";
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
inline const std::map<std::string, Kept>& Originals() {
  static const std::map<std::string, Kept> originals = [] {
    FixtureCopy copy;
    std::map<std::string, Kept> out;
    for (const CatalogEntry& e : copy.Open()->ReadCatalog().objects)
      out[e.manifest.name] = KeptOf(e.manifest);
    return out;
  }();
  return originals;
}

inline std::string PackName() {
  for (const auto& [name, kept] : Originals())
    if (name.rfind(kPackPrefix, 0) == 0) return name;
  return "";
}

inline UpgradeOptions Options(const FixtureCopy& f) {
  UpgradeOptions o;
  o.scratch_dir = f.scratch();
  o.threads = 1;
  return o;
}

// The catalogue walk (ls, verify, sweeps) shows each name once, whatever mix
// of versions an interrupted upgrade left: the version 3 object when the
// name has a version 3 manifest file on some target.
inline void ExpectEachNameOnce(const Store& store, const std::string& when) {
  std::map<std::string, int> seen;
  for (const CatalogEntry& e : store.ReadCatalog().objects) {
    const std::string& name = e.manifest.name;
    ++seen[name];
    bool has_v3 = false;
    for (const Target& t : store.targets())
      has_v3 = has_v3 || fs::exists(t.path + "/" + NameManifestFileName(name));
    if (has_v3)
      EXPECT_EQ(e.manifest.format_version, kManifestFormatVersion) << when << ": " << name;
  }
  EXPECT_EQ(seen.size(), Originals().size()) << when;
  for (const auto& [name, n] : seen) EXPECT_EQ(n, 1) << when << ": " << name;
}

// Every object restores bit-exact: the files against src/, the pack's
// members against packed/ and the pack as a whole against its SHA-256. The
// catalogue shows each once (ExpectEachNameOnce).
inline void ExpectEveryObjectRestores(const FixtureCopy& f, const Store& store,
                                      const std::string& when) {
  ExpectEachNameOnce(store, when);
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
  std::vector<PackEntry> entries;
  std::uint64_t needed = 0;
  s = ParsePackTail(bytes, bytes.size(), pack, &entries, &needed);
  ASSERT_TRUE(s.ok()) << when << ": " << s.ToString();
  ASSERT_EQ(entries.size(), kMembers.size()) << when;
  for (const PackEntry& e : entries) {
    const std::string member = fs::path(e.name).filename().string();
    ASSERT_LE(e.offset + e.length, bytes.size()) << when << ": " << member;
    EXPECT_EQ(bytes.substr(e.offset, e.length), ReadFile(f.packed(member)))
        << when << ": " << member;
  }
}

// The clean version 3 store of the file comment.
inline void ExpectCleanV3Store(const FixtureCopy& f, const std::string& when) {
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
  // The pack's files got member records: each restores by its own name.
  int members = 0;
  WalkMembers(
      *store,
      [&](MemberEntry& m) {
        ++members;
        RestoreOptions ro;
        ro.output = f.out("member");
        ro.threads = 1;
        RestoreResult rr;
        Status s = RestoreObject(*store, m.member.name, ro, &rr);
        EXPECT_TRUE(s.ok()) << when << ": " << m.member.name << ": " << s.ToString();
        if (s.ok())
          EXPECT_EQ(ReadFile(f.out("member")),
                    ReadFile(f.packed(fs::path(m.member.name).filename().string())))
              << when << ": " << m.member.name;
        return true;
      },
      nullptr);
  EXPECT_EQ(members, static_cast<int>(kMembers.size())) << when;
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

}  // namespace fls::upgrade_test
