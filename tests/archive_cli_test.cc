// The real `fls` binary: exit codes, --json output, the store forms.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "archive_test_util.h"

namespace fls {
namespace {

using testing::ReadFile;
using testing::TempDir;

using testing::CmdResult;

CmdResult Fls(const std::string& args) {
  return testing::Shell(std::string(FLS_BINARY) + " " + args);
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string yaml = "targets:\n";
    for (int i = 0; i < 14; ++i) {
      std::filesystem::create_directories(dir_ / ("t" + std::to_string(i)));
      yaml +=
          "  - path: t" + std::to_string(i) + "\n    domain: host" + std::to_string(i % 7) + "\n";
    }
    fls::testing::WriteFile(dir_ / "fls-store.yaml", yaml);
    data_ = fls::testing::RandomBytes(250000, 21);
    fls::testing::WriteFile(dir_ / "sample.bin", data_);
  }
  std::string Store() const { return dir_.path(); }
  TempDir dir_;
  std::string data_;
};

TEST_F(Cli, ArchiveDamageRestoreVerifyRepair) {
  CmdResult r = Fls("archive " + Store() + " --stripe 20K " + dir_ / "sample.bin");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("survives the loss of any 4 target(s)"), std::string::npos) << r.out;
  r = Fls("info " + Store() + " sample.bin --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto info = nlohmann::json::parse(r.out);
  ASSERT_EQ(info["chunks"].size(), 14u);
  for (int i : {0, 2, 9, 13}) {
    EXPECT_EQ(info["chunks"][i]["index"], i);
    ASSERT_TRUE(std::filesystem::remove(info["chunks"][i]["path"].get<std::string>()));
  }
  r = Fls("verify " + Store());
  EXPECT_EQ(r.rc, 4) << r.out;  // degraded
  EXPECT_NE(r.out.find("chunk 9 missing"), std::string::npos) << r.out;
  r = Fls("restore " + Store() + " sample.bin -o " + dir_ / "back.bin");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(ReadFile(dir_ / "back.bin"), data_);
  r = Fls("restore --store " + dir_ / "fls-store.yaml" + " sample.bin --range 1000:5000 -o " +
          dir_ / "part.bin");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(ReadFile(dir_ / "part.bin"), data_.substr(1000, 5000));
  r = Fls("repair " + Store() + " --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["rebuilt"].size(), 4u);
  r = Fls("verify --deep " + Store() + " sample.bin");
  EXPECT_EQ(r.rc, 0) << r.out;
  r = Fls("ls " + Store() + " --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["health"], "healthy");
}

TEST_F(Cli, UnrecoverableExitsFiveNamingStripeAndChunksWithNoOutput) {
  ASSERT_EQ(Fls("archive -q " + Store() + " --stripe 20K " + dir_ / "sample.bin").rc, 0);
  const auto info = nlohmann::json::parse(Fls("info " + Store() + " sample.bin --json").out);
  const std::uint64_t block = info["block_size"];
  for (int i : {1, 3, 5, 7, 11})
    fls::testing::FlipByte(info["chunks"][i]["path"].get<std::string>(), 128 + 4 * (block + 4) + 9);
  CmdResult r = Fls("restore " + Store() + " sample.bin -o " + dir_ / "out.bin");
  EXPECT_EQ(r.rc, 5) << r.out;
  EXPECT_NE(r.out.find("stripe 4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("chunk 11"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out.bin"));
  r = Fls("verify " + Store());
  EXPECT_EQ(r.rc, 5) << r.out;
}

// A store whose manifests are lost or damaged never verifies as "0 objects,
// all fine": orphan chunk files exit 4, unreadable names exit 5, each named.
TEST_F(Cli, VerifyReportsOrphanChunksAndUnreadableNames) {
  ASSERT_EQ(Fls("archive -q " + Store() + " --stripe 20K " + dir_ / "sample.bin").rc, 0);
  const auto info = nlohmann::json::parse(Fls("info " + Store() + " sample.bin --json").out);
  std::vector<std::string> copies = info["manifest_copies_paths"];
  ASSERT_EQ(copies.size(), 5u);
  // Every manifest copy gone: the chunks are orphans (made old enough to count).
  for (const auto& p : copies) ASSERT_TRUE(std::filesystem::remove(p));
  for (const auto& c : info["chunks"]) {
    const std::string p = c["path"];
    ASSERT_EQ(std::system(("touch -d 2001-01-01 '" + p + "'").c_str()), 0);
  }
  CmdResult r = Fls("verify " + Store());
  EXPECT_EQ(r.rc, 4) << r.out;
  EXPECT_NE(r.out.find("ORPHAN"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(info["chunks"][3]["path"].get<std::string>()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 object(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("14 unreferenced chunk file(s)"), std::string::npos) << r.out;
  // Archived again and its manifest copies damaged: unreadable, exit 5.
  ASSERT_EQ(Fls("archive -q " + Store() + " --name second " + dir_ / "sample.bin").rc, 0);
  const auto second = nlohmann::json::parse(Fls("info " + Store() + " second --json").out);
  for (const auto& p : second["manifest_copies_paths"]) {
    std::string text = ReadFile(p);
    text[text.find("\"mode\":") + 7] = '1';
    fls::testing::WriteFile(p, text);
  }
  r = Fls("verify " + Store());
  EXPECT_EQ(r.rc, 5) << r.out;
  EXPECT_NE(r.out.find("UNREADABLE    'second'"), std::string::npos) << r.out;
  r = Fls("ls " + Store());
  EXPECT_EQ(r.rc, 5) << r.out;
  r = Fls("info " + Store() + " second");
  EXPECT_NE(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("every manifest copy"), std::string::npos) << r.out;
  r = Fls("sweep --verify-only --json --db " + dir_ / "h.db" + " " + Store());
  EXPECT_EQ(r.rc, 5) << r.out;
  const auto sweep = nlohmann::json::parse(r.out.substr(r.out.find('{')));
  EXPECT_EQ(sweep["unreadable_objects"].size(), 1u) << r.out;
  EXPECT_EQ(sweep["unreferenced"].size(), 14u) << r.out;
}

TEST_F(Cli, UsageAndIoErrors) {
  EXPECT_EQ(Fls("archive").rc, 2);
  CmdResult r = Fls("archive " + dir_ / "sample.bin");  // no store
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("no store given"), std::string::npos) << r.out;
  r = Fls("archive " + Store() + " -k 0 " + dir_ / "sample.bin");
  EXPECT_EQ(r.rc, 2) << r.out;
  r = Fls("archive " + Store() + " " + dir_ / "missing.bin");
  EXPECT_EQ(r.rc, 3) << r.out;
  EXPECT_NE(r.out.find("missing.bin"), std::string::npos) << r.out;
  r = Fls("restore " + Store() + " nothing-here");
  EXPECT_EQ(r.rc, 3) << r.out;
  r = Fls("archive --target " + dir_ / "t0" + " --target " + dir_ / "t1" + " " +
          dir_ / "sample.bin");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("--allow-shared-targets"), std::string::npos) << r.out;
  r = Fls("archive --allow-shared-targets --target " + dir_ / "t0" + " --target " + dir_ / "t1" +
          " -k 2 -m 2 " + dir_ / "sample.bin");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("fault tolerance is 1 target failure(s), not 2"), std::string::npos)
      << r.out;
}

}  // namespace
}  // namespace fls
