// The committed version 1 store (tests/data/v1-store, made by the v1 code:
// README.md there) read by today's code. Its manifests name targets by
// absolute paths under /tmp/fls-v1-fixture that do not exist here, so every
// chunk must be found on the store's own targets. Each test works on a copy
// in a temporary directory: the fixture itself is never written.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "archive_test_util.h"
#include "fls/sha256.h"
#include "fls/store.h"
#include "fls/pack.h"
#include "test_paths.h"

namespace fls {
namespace {

namespace fs = std::filesystem;
using testing::CmdResult;
using testing::ReadFile;
using testing::Shell;
using testing::TempDir;

// Objects archived from src/ (README.md's table), by name.
const std::vector<std::string> kFiles = {"empty",     "small.bin",       "multi.bin",
                                         "exact.bin", "vandermonde.bin", "k6m3.bin"};
const std::vector<std::string> kMembers = {"a.txt", "b.txt", "c.txt"};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string Sha256Of(const std::string& bytes) {
  Sha256 h;
  h.Update(bytes.data(), bytes.size());
  return h.FinishHex();
}

class V1Fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path src = fs::path(FLS_TEST_DATA_DIR) / "v1-store";
    ASSERT_TRUE(fs::exists(src / "fls-store.yaml")) << src;
    // The test must prove the chunks are found on the store's own targets:
    // if the paths the manifests name existed, it would prove nothing.
    ASSERT_FALSE(fs::exists("/tmp/fls-v1-fixture"))
        << "/tmp/fls-v1-fixture exists; remove it (the fixture's manifests name it)";
    fs::copy(src, dir_.path(), fs::copy_options::recursive);
    config_ = (fs::path(dir_.path()) / "fls-store.yaml").string();
  }

  CmdResult Fls(const std::string& args) { return Shell(std::string(FLS_BINARY) + " " + args); }
  std::string Src(const std::string& name) const {
    return (fs::path(dir_.path()) / "src" / name).string();
  }
  std::string Out(const std::string& name) const {
    return (fs::path(dir_.path()) / "out" / name).string();
  }
  // Every target's file names and sizes: what the reads must leave as it was.
  std::map<std::string, std::uintmax_t> TargetFiles() const {
    std::map<std::string, std::uintmax_t> files;
    for (const auto& e : fs::recursive_directory_iterator(dir_.path())) {
      const std::string rel = fs::relative(e.path(), dir_.path()).string();
      if (e.is_regular_file() && rel.rfind("t", 0) == 0) files[rel] = e.file_size();
    }
    return files;
  }
  // The pack object's name, from `fls ls --json`.
  std::string PackName() {
    CmdResult r = Fls("ls --json " + config_);
    EXPECT_EQ(r.rc, 0) << r.out;
    for (const auto& line : Lines(r.out)) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("name") &&
          j["name"].get<std::string>().rfind(kPackPrefix, 0) == 0)
        return j["name"];
    }
    return "";
  }

  TempDir dir_;
  std::string config_;
};

TEST_F(V1Fixture, EveryObjectRestoresBitExact) {
  fs::create_directories(fs::path(dir_.path()) / "out");
  for (const std::string& name : kFiles) {
    CmdResult r = Fls("restore " + config_ + " " + name + " -o " + Out(name));
    ASSERT_EQ(r.rc, 0) << name << ": " << r.out;
    EXPECT_NE(r.out.find("SHA-256 verified"), std::string::npos) << r.out;
    EXPECT_EQ(ReadFile(Out(name)), ReadFile(Src(name))) << name;
  }
}

TEST_F(V1Fixture, PackMembersMatchTheirSources) {
  const std::string pack = PackName();
  ASSERT_FALSE(pack.empty());
  fs::create_directories(fs::path(dir_.path()) / "out");
  CmdResult r = Fls("restore " + config_ + " " + pack + " -o " + Out("pack"));
  ASSERT_EQ(r.rc, 0) << r.out;
  const std::string bytes = ReadFile(Out("pack"));
  std::vector<PackEntry> entries;
  std::uint64_t needed = 0;
  Status s = ParsePackTail(bytes, bytes.size(), pack, &entries, &needed);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(entries.size(), kMembers.size());
  std::map<std::string, const PackEntry*> by_name;
  for (const auto& e : entries) by_name[fs::path(e.name).filename().string()] = &e;
  for (const std::string& m : kMembers) {
    ASSERT_TRUE(by_name.count(m)) << m;
    const PackEntry& e = *by_name[m];
    ASSERT_LE(e.offset + e.length, bytes.size()) << m;
    const std::string member = bytes.substr(e.offset, e.length);
    const std::string want = ReadFile((fs::path(dir_.path()) / "packed" / m).string());
    EXPECT_EQ(member, want) << m;
    EXPECT_EQ(Sha256Of(member), e.sha256) << m;
  }
}

TEST_F(V1Fixture, LsAndInfoFindEachByName) {
  CmdResult r = Fls("ls " + config_);
  ASSERT_EQ(r.rc, 0) << r.out;
  for (const std::string& name : kFiles) EXPECT_NE(r.out.find(name), std::string::npos) << r.out;
  const std::string pack = PackName();
  ASSERT_FALSE(pack.empty());
  std::vector<std::string> names = kFiles;
  names.push_back(pack);
  for (const std::string& name : names) {
    r = Fls("info --json " + config_ + " " + name);
    ASSERT_EQ(r.rc, 0) << name << ": " << r.out;
    const auto j = nlohmann::json::parse(r.out.substr(r.out.find('{')));
    EXPECT_EQ(j["name"], name);
    EXPECT_EQ(j["format_version"], 1) << name;
    EXPECT_EQ(j["health"], "healthy") << name << ": " << r.out;
    for (const auto& c : j["chunks"]) {
      const std::string path = c["path"];
      EXPECT_EQ(path.rfind(dir_.path(), 0), 0u)
          << name << ": chunk read from " << path << ", not from the store's own targets";
    }
  }
}

TEST_F(V1Fixture, VerifyFindsEveryObjectHealthyAndLeavesTheStoreAsItWas) {
  const auto before = TargetFiles();
  CmdResult r = Fls("verify --deep " + config_);
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("7 object(s): 7 healthy, 0 degraded, 0 unrecoverable"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("ORPHAN"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("UNREADABLE"), std::string::npos) << r.out;
  for (const std::string& name : kFiles) {
    r = Fls("verify " + config_ + " " + name);
    EXPECT_EQ(r.rc, 0) << name << ": " << r.out;
  }
  EXPECT_EQ(TargetFiles(), before) << "a read-only command changed the targets";
}

}  // namespace
}  // namespace fls
