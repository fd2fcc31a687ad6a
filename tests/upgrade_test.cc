// `fls upgrade` (fls/upgrade.h) on copies of the committed version 1 store:
// the upgraded store (tests/upgrade_test_util.h says what a clean version 3
// store is), a second run that changes nothing, and an object too damaged to
// upgrade. Interrupted upgrades: upgrade_crash_test.cc.
#include <nlohmann/json.hpp>

#include "host/archive/maintenance_lock.h"
#include "upgrade_test_util.h"

namespace fls::upgrade_test {
namespace {

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

// An attempt killed before its commit left chunk files under the derived id;
// the retry may place them elsewhere (free space changed, a target added).
// Here every target holds every index: the ones the retry does not write over
// must go.
TEST(Upgrade, ChunkFilesOfAnAttemptKilledBeforeItsCommitAreRemoved) {
  FixtureCopy f;
  const ObjectId derived = UpgradedObjectId(Originals().at("multi.bin").id);
  for (int t = 0; t < 14; ++t)
    for (int i = 0; i < 14; ++i) {
      char dir[8];
      std::snprintf(dir, sizeof dir, "t%02d", t);
      testing::WriteFile(f.root() + "/" + dir + "/" + ChunkFileName(derived, i), "stale");
    }
  CmdResult r = Fls("upgrade -q " + f.config() + " --scratch " + f.scratch());
  ASSERT_EQ(r.rc, 0) << r.out;
  ExpectCleanV3Store(f, "after upgrade");
  ExpectEveryObjectRestores(f, *f.Open(), "after upgrade");
}

// A scratch directory that is not there, and a store whose maintenance lock
// another run holds: refused before anything is written, with the reason.
TEST(Upgrade, RefusesToStartWithoutScratchOrWhileTheStoreIsBusy) {
  FixtureCopy f;
  const auto before = f.TargetFiles();
  CmdResult r = Fls("upgrade " + f.config() + " --scratch " + f.root() + "/no-such-dir");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("scratch directory " + f.root() + "/no-such-dir"), std::string::npos)
      << r.out;
  std::unique_ptr<Store> store = f.Open();
  std::unique_ptr<internal::MaintenanceLock> lock;
  ASSERT_TRUE(internal::MaintenanceLock::Acquire(*store, "repair sweep", &lock).ok());
  r = Fls("upgrade " + f.config() + " --scratch " + f.scratch());
  EXPECT_EQ(r.rc, 6) << r.out;
  EXPECT_NE(r.out.find("the store is busy: a repair sweep"), std::string::npos) << r.out;
  EXPECT_EQ(f.TargetFiles(), before) << "a refused upgrade changed the targets";
  lock.reset();
  r = Fls("upgrade -q " + f.config() + " --scratch " + f.scratch());
  EXPECT_EQ(r.rc, 0) << r.out;
}

// The fixture's pack predates member records (index fls-pack/1): upgrade
// gave its files records, and would give one again to a file deleted from
// it, so `fls rm` refuses its files (exit 2, naming the pack and why), and
// the file stays whole. The second upgrade then changes nothing.
TEST(Upgrade, FilesOfAPackWrittenBeforeRecordsAreNotDeleted) {
  FixtureCopy f;
  CmdResult r = Fls("upgrade -q " + f.config() + " --scratch " + f.scratch());
  ASSERT_EQ(r.rc, 0) << r.out;
  std::string member;
  {
    std::unique_ptr<Store> store = f.Open();
    WalkMembers(
        *store,
        [&](MemberEntry& me) {
          if (fs::path(me.member.name).filename() == kMembers[0]) member = me.member.name;
          return true;
        },
        nullptr);
  }
  ASSERT_FALSE(member.empty()) << "no record of " << kMembers[0] << " after upgrade";
  // The files that hold data (not the markers of fls's own housekeeping,
  // such as the stale-temporary scan's).
  auto data_files = [&f] {
    auto files = f.TargetFiles();
    std::erase_if(files, [](const auto& kv) {
      return fs::path(kv.first).filename().string().rfind(".fls-", 0) == 0;
    });
    return files;
  };
  const auto before = data_files();
  r = Fls("rm " + f.config() + " " + member);
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find(PackName()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fls-pack/1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fls upgrade"), std::string::npos) << r.out;
  EXPECT_EQ(data_files(), before) << "a refused rm changed the targets";
  r = Fls("restore " + f.config() + " " + member + " -o " + f.out("member"));
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(ReadFile(f.out("member")), ReadFile(f.packed(kMembers[0])));
}

// `fls compact` rewrites an upgraded fls-pack/1 pack, whatever its dead
// share, into an fls-pack/2 one: every file restores bit-exact from the new
// pack, the old pack is gone, and the files can then be deleted; a third
// upgrade does not bring a deleted one back. Before the upgrade (files
// without records) compact leaves the pack alone with a warning.
TEST(Upgrade, CompactRewritesAPackWrittenBeforeRecordsSoItsFilesCanBeDeleted) {
  FixtureCopy f;
  CmdResult r = Fls("compact " + f.config() + " --min-age 0 --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("run `fls upgrade`"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"packs_rewritten\":0"), std::string::npos) << r.out;
  r = Fls("upgrade -q " + f.config() + " --scratch " + f.scratch());
  ASSERT_EQ(r.rc, 0) << r.out;
  std::map<std::string, std::string> members;  // object name -> expected bytes
  {
    std::unique_ptr<Store> store = f.Open();
    WalkMembers(
        *store,
        [&](MemberEntry& me) {
          members[me.member.name] = ReadFile(f.packed(fs::path(me.member.name).filename()));
          return true;
        },
        nullptr);
  }
  ASSERT_EQ(members.size(), kMembers.size());
  // A repair sweep removes dead packs only: this one stays as it is (made
  // older than the sweep's 10 minutes, as it would be in a real store).
  for (const auto& [path, size_mtime] : f.TargetFiles())
    fs::last_write_time(path, fs::file_time_type::clock::now() - std::chrono::hours(2));
  r = Fls("sweep " + f.config() + " --db " + f.root() + "/health.db");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(Fls("info " + f.config() + " " + PackName()).rc, 0) << "a sweep rewrote the pack";
  EXPECT_EQ(r.out.find("run `fls upgrade`"), std::string::npos) << r.out;
  // The fixture's pack has no dead file: compact rewrites it for its format.
  r = Fls("compact " + f.config() + " --min-age 0 --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("\"packs_rewritten\":1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"files_moved\":3"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("fls upgrade"), std::string::npos) << r.out;
  r = Fls("info " + f.config() + " " + PackName());
  EXPECT_NE(r.rc, 0) << "the old pack is still there: " << r.out;
  for (const auto& [name, bytes] : members) {
    const std::string out = f.out(fs::path(name).filename());
    r = Fls("restore " + f.config() + " " + name + " -o " + out);
    ASSERT_EQ(r.rc, 0) << r.out;
    EXPECT_EQ(ReadFile(out), bytes) << name;
  }
  // Now a file of it can be deleted, and stays deleted.
  const std::string gone = members.begin()->first;
  r = Fls("rm " + f.config() + " " + gone);
  ASSERT_EQ(r.rc, 0) << r.out;
  r = Fls("upgrade -q " + f.config() + " --scratch " + f.scratch());
  ASSERT_EQ(r.rc, 0) << r.out;
  r = Fls("restore " + f.config() + " " + gone + " -o " + f.out("gone"));
  EXPECT_NE(r.rc, 0) << "a deleted file came back: " << r.out;
  EXPECT_FALSE(fs::exists(f.out("gone")));
  for (const auto& [name, bytes] : members) {
    if (name == gone) continue;
    r = Fls("restore " + f.config() + " " + name + " -o " + f.out("again"));
    ASSERT_EQ(r.rc, 0) << r.out;
    EXPECT_EQ(ReadFile(f.out("again")), bytes) << name;
    fs::remove(f.out("again"));
  }
}

// Version 2 objects (path-addressed, chunk format 2) as fls wrote them
// between layout v2's geometry and its catalogue, one with a mode its owner
// cannot read: upgraded in place with mode, mtime and bytes kept.
TEST(Upgrade, Version2ObjectsAreUpgradedWithTheirModeAndMtime) {
  TempDir dir(FastBase());
  std::unique_ptr<Store> store = testing::MakeStore(dir.path(), 6);
  const std::vector<std::pair<std::string, std::uint32_t>> objects = {
      {"a", 0644}, {"b", 0200}, {"c", 0755}};
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const auto& [name, mode] = objects[i];
    testing::WriteFile(dir / name, testing::RandomBytes(30000 + 7000 * i, 50 + i));
    // The mode and mtime are the archive's record: set through the open file's
    // info, so that a mode without owner read needs no root to archive.
    std::unique_ptr<RandomAccessFile> src;
    FileInfo info;
    ASSERT_TRUE(Env::Default()->NewRandomAccessFile(dir / name, &src).ok());
    ASSERT_TRUE(Env::Default()->GetFileInfo(dir / name, &info).ok());
    info.mode = mode;
    info.mtime_ns = 1234567890123456789;
    ArchiveOptions ao;
    ao.k = 4;
    ao.m = 2;
    ao.stripe_width = 16384;
    ao.threads = 1;
    ArchiveResult ar;
    ASSERT_TRUE(ArchiveOpenFile(*store, *src, info, ao, &ar).ok()) << name;
    testing::MakePathAddressed(*store, name);
  }
  testing::DropIdentities(store->targets());
  std::map<std::string, Kept> before;
  {
    std::unique_ptr<Store> fresh = testing::MakeStore(dir.path(), 6);
    for (const CatalogEntry& e : fresh->ReadCatalog().objects) {
      EXPECT_EQ(e.manifest.format_version, kManifestFormatVersion2) << e.manifest.name;
      before[e.manifest.name] = KeptOf(e.manifest);
    }
  }
  ASSERT_EQ(before.size(), objects.size());
  std::unique_ptr<Store> fresh = testing::MakeStore(dir.path(), 6);
  UpgradeOptions o;
  o.scratch_dir = dir.path();
  o.threads = 1;
  UpgradeReport r;
  ASSERT_TRUE(UpgradeStore(*fresh, o, &r).ok());
  EXPECT_EQ(r.upgraded.size(), objects.size());
  EXPECT_TRUE(r.failures.empty());
  EXPECT_EQ(r.path_addressed_left, 0);
  std::unique_ptr<Store> after = testing::MakeStore(dir.path(), 6);
  EXPECT_FALSE(after->MayHoldV1());
  for (std::size_t i = 0; i < objects.size(); ++i) {
    const auto& [name, mode] = objects[i];
    CatalogEntry e;
    ASSERT_TRUE(after->FindObject(name, &e).ok()) << name;
    EXPECT_EQ(e.manifest.format_version, kManifestFormatVersion) << name;
    const Kept now = KeptOf(e.manifest), old = before[name];
    EXPECT_EQ(now.id, UpgradedObjectId(old.id)) << name;
    EXPECT_EQ(now.mode, mode) << name;
    EXPECT_EQ(now.mtime_ns, 1234567890123456789) << name;
    EXPECT_EQ(now.sha256, old.sha256) << name;
    RestoreOptions ro;
    ro.output = dir / ("out-" + name);
    ro.threads = 1;
    RestoreResult rr;
    ASSERT_TRUE(RestoreObject(*after, name, ro, &rr).ok()) << name;
    EXPECT_TRUE(rr.problems.empty()) << name;
    fs::permissions(dir / ("out-" + name), fs::perms::owner_read, fs::perm_options::add);
    EXPECT_EQ(ReadFile(dir / ("out-" + name)), testing::RandomBytes(30000 + 7000 * i, 50 + i))
        << name;
  }
  for (const std::string& p : testing::AllFiles(dir.path())) {
    ObjectId id;
    std::uint64_t gen = 0;
    EXPECT_FALSE(ParseManifestFileName(BaseName(p), &id, &gen)) << p;
    EXPECT_EQ(BaseName(p).rfind("fls-upgrade-", 0), std::string::npos) << p;
  }
}

}  // namespace
}  // namespace fls::upgrade_test
