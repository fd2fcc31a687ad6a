// `fls init` (issue 14) through the real binary on real directories: a fresh
// store, a rerun, and the targets it must refuse (a file, an unwritable
// directory, targets of two stores), each leaving nothing behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "archive_test_util.h"
#include "test_paths.h"

namespace fls {
namespace {

namespace fs = std::filesystem;
using testing::CmdResult;
using testing::ReadFile;
using testing::TempDir;

constexpr char kIdentity[] = "fls-target.json";

CmdResult Fls(const std::string& args) {
  return testing::Shell(std::string(FLS_BINARY) + " " + args);
}

std::string TargetArgs(const std::vector<std::string>& dirs) {
  std::string s;
  for (const std::string& d : dirs) s += " --target " + d;
  return s;
}

class InitCli : public ::testing::Test {
 protected:
  // A store directory with fls-store.yaml over 14 targets in 7 domains; the
  // even ones exist, the odd ones are left for `init` to create.
  void SetUp() override {
    std::string yaml = "targets:\n";
    for (int i = 0; i < 14; ++i) {
      const std::string t = dir_ / ("t" + std::to_string(i));
      if (i % 2 == 0) fs::create_directories(t);
      targets_.push_back(t);
      yaml += "  - path: " + t + "\n    domain: host" + std::to_string(i % 7) + "\n";
    }
    testing::WriteFile(dir_ / "fls-store.yaml", yaml);
  }
  int IdentityFiles() const {
    int n = 0;
    for (const std::string& t : targets_) n += fs::exists(t + "/" + kIdentity) ? 1 : 0;
    return n;
  }
  TempDir dir_;
  std::vector<std::string> targets_;
};

TEST_F(InitCli, FreshStoreJoinsEveryTarget) {
  CmdResult r = Fls("init " + dir_.path() + " --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["new_store"].get<bool>());
  EXPECT_FALSE(j["already_initialised"].get<bool>());
  const std::string sid = j["store_id"];
  EXPECT_EQ(sid.size(), 32u);
  ASSERT_EQ(j["targets"].size(), 14u);
  std::set<std::string> ids;
  for (int i = 0; i < 14; ++i) {
    const auto& t = j["targets"][i];
    EXPECT_EQ(t["path"], targets_[i]);
    EXPECT_EQ(t["domain"], "host" + std::to_string(i % 7));
    EXPECT_TRUE(t["joined_now"].get<bool>());
    EXPECT_EQ(t["created_dir"].get<bool>(), i % 2 == 1) << targets_[i];
    ids.insert(t["target_id"].get<std::string>());
    // The identity on disk is the one printed.
    const auto id = nlohmann::json::parse(ReadFile(targets_[i] + "/" + kIdentity));
    EXPECT_EQ(id["store_id"], sid);
    EXPECT_EQ(id["target_id"], t["target_id"]);
  }
  EXPECT_EQ(ids.size(), 14u);
  EXPECT_EQ(ids.count(""), 0u);
  // No probe file stays behind: an initialised target holds its identity only.
  for (const std::string& t : targets_) EXPECT_EQ(testing::FilesIn(t).size(), 1u) << t;
}

TEST_F(InitCli, RerunSaysAlreadyInitialisedAndChangesNothing) {
  CmdResult r = Fls("init " + dir_.path());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("initialised (14 target(s) joined)"), std::string::npos) << r.out;
  std::vector<std::string> before;
  for (const std::string& t : targets_) before.push_back(ReadFile(t + "/" + kIdentity));
  r = Fls("init " + dir_.path());
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("already initialised (14 target(s))"), std::string::npos) << r.out;
  r = Fls("init " + dir_.path() + " --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["already_initialised"].get<bool>());
  EXPECT_FALSE(j["new_store"].get<bool>());
  for (const auto& t : j["targets"]) EXPECT_FALSE(t["joined_now"].get<bool>());
  // An archive into the initialised store rewrites no identity either: the
  // identity bytes are the store's, paid once at init (the space bench
  // counts them apart on that ground).
  testing::WriteFile(dir_ / "a.bin", testing::RandomBytes(100000, 3));
  r = Fls("archive " + dir_.path() + " -q " + dir_ / "a.bin");
  ASSERT_EQ(r.rc, 0) << r.out;
  for (std::size_t i = 0; i < targets_.size(); ++i)
    EXPECT_EQ(ReadFile(targets_[i] + "/" + kIdentity), before[i]) << targets_[i];
}

TEST_F(InitCli, NewTargetJoinsTheExistingStore) {
  ASSERT_EQ(Fls("init" + TargetArgs({targets_[0], targets_[1]}) + " -q").rc, 0);
  CmdResult r = Fls("init" + TargetArgs({targets_[0], targets_[1], targets_[2]}) + " --json");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["new_store"].get<bool>());
  EXPECT_FALSE(j["already_initialised"].get<bool>());
  EXPECT_FALSE(j["targets"][0]["joined_now"].get<bool>());
  EXPECT_TRUE(j["targets"][2]["joined_now"].get<bool>());
  const auto id = nlohmann::json::parse(ReadFile(targets_[2] + "/" + kIdentity));
  EXPECT_EQ(id["store_id"], j["store_id"]);
}

TEST_F(InitCli, TargetThatIsAFileIsRefusedAndNothingIsLeft) {
  testing::WriteFile(targets_[3], "not a directory");
  CmdResult r = Fls("init " + dir_.path());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("target " + targets_[3] + ": is not a directory"), std::string::npos)
      << r.out;
  EXPECT_EQ(IdentityFiles(), 0);
  // The directories this run would have created are gone again.
  for (int i = 1; i < 14; i += 2)
    if (i != 3) EXPECT_FALSE(fs::exists(targets_[i])) << targets_[i];
  // A parent that is a file: the target cannot be created, and says why.
  r = Fls("init" + TargetArgs({targets_[0], targets_[3] + "/sub"}));
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("cannot be created: " + targets_[3] + " is not a directory"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(IdentityFiles(), 0);
}

TEST_F(InitCli, UnwritableTargetIsRefusedAndNothingIsLeft) {
  // Permission bits do not stop root: as root the command runs as nobody
  // (setpriv), which may write to the 0777 target and not to the 0755 one.
  const bool root = ::geteuid() == 0;
  std::string prefix;
  if (root) {
    if (testing::Shell("setpriv --reuid=65534 --regid=65534 --clear-groups true").rc != 0)
      GTEST_SKIP() << "running as root and setpriv cannot drop to nobody: permission bits do "
                      "not stop root, so an unwritable target cannot be made here";
    prefix = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
    fs::permissions(dir_.path(), fs::perms(0755));
    fs::permissions(targets_[0], fs::perms(0777));
    fs::permissions(targets_[2], fs::perms(0755));
  } else {
    fs::permissions(targets_[2], fs::perms(0555));
  }
  CmdResult r = testing::Shell(prefix + FLS_BINARY + " init" +
                               TargetArgs({targets_[0], targets_[2], targets_[4]}));
  fs::permissions(targets_[2], fs::perms(0755));
  EXPECT_EQ(r.rc, 3) << r.out;
  EXPECT_NE(r.out.find("target " + targets_[2] + ": not writable"), std::string::npos) << r.out;
  // Target 4 (0755, root's) is as unwritable to nobody: both are named.
  if (root)
    EXPECT_NE(r.out.find("target " + targets_[4] + ": not writable"), std::string::npos) << r.out;
  EXPECT_EQ(IdentityFiles(), 0);
  EXPECT_TRUE(testing::FilesIn(targets_[0]).empty());
}

TEST_F(InitCli, TargetsOfTwoStoresAreRefused) {
  ASSERT_EQ(Fls("init" + TargetArgs({targets_[0], targets_[2]}) + " -q").rc, 0);
  ASSERT_EQ(Fls("init" + TargetArgs({targets_[4]}) + " -q").rc, 0);
  const std::string other = ReadFile(targets_[4] + "/" + kIdentity);
  CmdResult r = Fls("init" + TargetArgs({targets_[0], targets_[2], targets_[4], targets_[6]}));
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find(targets_[4]), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("belong to different stores"), std::string::npos) << r.out;
  EXPECT_EQ(ReadFile(targets_[4] + "/" + kIdentity), other);
  EXPECT_FALSE(fs::exists(targets_[6] + "/" + kIdentity));
}

TEST_F(InitCli, StrayArgumentIsAUsageError) {
  CmdResult r = Fls("init " + dir_.path() + " extra");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("'extra' is not a store"), std::string::npos) << r.out;
  EXPECT_EQ(IdentityFiles(), 0);
}

}  // namespace
}  // namespace fls
