// `fls upgrade` (fls/upgrade.h) on copies of the committed version 1 store:
// the upgraded store (tests/upgrade_test_util.h says what a clean version 3
// store is), a second run that changes nothing, and an object too damaged to
// upgrade. Interrupted upgrades: upgrade_crash_test.cc.
#include <nlohmann/json.hpp>

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

}  // namespace
}  // namespace fls::upgrade_test
