// Crash loops (design.md section 5): the real `fls archive`, `fls repair` and
// `fls restore` killed with SIGKILL at random points (fixed seed, bounded
// count), each run checked against an expected-state record:
//   - every acknowledged object (the command exited 0) restores bit-exact;
//   - nothing half-written is visible: every listed object is complete
//     (restores bit-exact to the bytes that were archived under its name);
//   - temporaries of killed writers are gone after the next writer starts;
//   - a killed restore leaves the output as it was (absent, or the previous
//     file), never a part of the new one.
// Counts go to stdout ("crash-loop: ...") for docs/RELIABILITY.md.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "archive_test_util.h"
#include "test_paths.h"

namespace fls {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;
using Clock = std::chrono::steady_clock;

using testing::CmdResult;

CmdResult Fls(const std::string& args) {
  return testing::Shell(std::string(FLS_BINARY) + " " + args);
}

int CountTemps(const std::string& root) {
  int n = 0;
  for (const auto& p : testing::AllFiles(root))
    if (IsTempName(BaseName(p))) ++n;
  return n;
}

std::vector<nlohmann::json> Listing(const std::string& store) {
  CmdResult r = Fls("ls " + store + " --json");
  EXPECT_EQ(r.rc, 0) << r.out;
  std::vector<nlohmann::json> out;
  std::size_t start = 0;
  while (start < r.out.size()) {
    std::size_t end = r.out.find('\n', start);
    if (end == std::string::npos) end = r.out.size();
    const std::string line = r.out.substr(start, end - start);
    if (!line.empty() && line[0] == '{') out.push_back(nlohmann::json::parse(line));
    start = end + 1;
  }
  return out;
}

class CrashLoop : public ::testing::Test {
 protected:
  static constexpr int kTargets = 6;
  void SetUp() override {
    for (int i = 0; i < kTargets; ++i)
      std::filesystem::create_directories(dir_ / ("t" + std::to_string(i)));
    std::string yaml = "targets:\n";
    for (int i = 0; i < kTargets; ++i) yaml += "  - path: t" + std::to_string(i) + "\n";
    WriteFile(dir_ / "store.yaml", yaml);
  }
  std::string Store() const { return "--store " + dir_ / "store.yaml"; }

  // Archives `data` as `name` without interference; checks it is acknowledged.
  void ArchiveOk(const std::string& name, const std::string& data) {
    WriteFile(dir_ / "src.bin", data);
    CmdResult r = Fls("archive -q " + Store() + " -k 4 -m 2 --stripe 64K --name " + name + " " +
                      dir_ / "src.bin");
    ASSERT_EQ(r.rc, 0) << r.out;
  }

  // Every listed object restores to exactly what was archived under its name
  // (`all`), and every acknowledged one is listed.
  void CheckExpectedState(const std::map<std::string, std::string>& all,
                          const std::set<std::string>& acknowledged, const char* when) {
    std::set<std::string> listed;
    for (const auto& j : Listing(Store())) listed.insert(j["name"].get<std::string>());
    for (const auto& name : acknowledged)
      EXPECT_TRUE(listed.count(name)) << when << ": acknowledged '" << name << "' is not listed";
    for (const auto& name : listed) {
      ASSERT_TRUE(all.count(name)) << when << ": unknown object '" << name << "' is listed";
      std::filesystem::remove(dir_ / "out.bin");
      CmdResult r = Fls("restore " + Store() + " " + name + " -o " + dir_ / "out.bin");
      ASSERT_EQ(r.rc, 0) << when << ": '" << name << "': " << r.out;
      EXPECT_TRUE(ReadFile(dir_ / "out.bin") == all.at(name))
          << when << ": '" << name << "' does not restore bit-exact";
    }
  }
  TempDir dir_;
};

TEST_F(CrashLoop, ArchiveKilledAtRandomPoints) {
  constexpr int kRuns = 20;
  // Calibrate: how long one undisturbed archive takes here.
  std::map<std::string, std::string> all;
  std::set<std::string> acknowledged;
  const std::string base = testing::RandomBytes(3 << 20, 1);
  const auto t0 = Clock::now();
  ArchiveOk("calibration", base);
  const auto span = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
  all["calibration"] = base;
  acknowledged.insert("calibration");

  std::mt19937_64 rng(20261125);
  int killed_count = 0, acked = 0, temps_seen = 0;
  for (int i = 0; i < kRuns; ++i) {
    const std::string name = "obj" + std::to_string(i);
    std::string data = testing::RandomBytes(1 << 20, 100 + i) + base.substr(0, (i % 3) << 20);
    WriteFile(dir_ / "src.bin", data);
    const auto after = std::chrono::microseconds(rng() % (span.count() * 5 / 4 + 1));
    const std::vector<std::string> args = {
        "archive", "-q",     "--store", dir_ / "store.yaml", "-k", "4", "-m", "2", "--stripe",
        "64K",     "--name", name,      dir_ / "src.bin"};
    bool killed = false;
    all[name] = data;
    if (testing::RunAndMaybeKill(FLS_BINARY, args, after, &killed)) {
      acknowledged.insert(name);
      ++acked;
    }
    killed_count += killed;
    temps_seen += CountTemps(dir_.path());
    CheckExpectedState(all, acknowledged, ("after archive run " + std::to_string(i)).c_str());
  }
  // The next writer to start removes what the killed ones left: `fls archive`
  // lists a target at most every 10 minutes (its .fls-temp-scan marker), so
  // the markers are aged past that first, as if the loop had taken longer.
  for (const auto& e : testing::fs::recursive_directory_iterator(dir_.path()))
    if (e.path().filename() == ".fls-temp-scan")
      testing::fs::last_write_time(e.path(), testing::fs::file_time_type::clock::now() -
                                                 std::chrono::minutes(11));
  ArchiveOk("after", "the next start");
  all["after"] = "the next start";
  acknowledged.insert("after");
  EXPECT_EQ(CountTemps(dir_.path()), 0);
  CheckExpectedState(all, acknowledged, "at the end");
  // A run killed while writing its manifest copies leaves a complete object
  // with fewer copies than targets: listed as degraded, restorable (checked
  // above), and whole again after one repair.
  int visible_unacknowledged = 0, degraded = 0;
  for (const auto& j : Listing(Store())) {
    visible_unacknowledged += !acknowledged.count(j["name"].get<std::string>());
    degraded += j["health"] != "healthy";
  }
  CmdResult v = Fls("repair -q " + Store());
  EXPECT_EQ(v.rc, 0) << v.out;
  v = Fls("verify --deep " + Store());
  EXPECT_EQ(v.rc, 0) << v.out;
  std::printf(
      "crash-loop: archive runs=%d killed=%d acknowledged=%d temporaries-left-by-kills=%d "
      "killed-but-committed=%d degraded-before-repair=%d (calibration %lld us)\n",
      kRuns, killed_count, acked, temps_seen, visible_unacknowledged, degraded,
      static_cast<long long>(span.count()));
  EXPECT_GT(killed_count, 0) << "no run was killed: the loop tested nothing";
}

TEST_F(CrashLoop, RepairKilledAtRandomPoints) {
  constexpr int kRuns = 20, kObjects = 4;
  std::map<std::string, std::string> all;
  std::set<std::string> acknowledged;
  for (int o = 0; o < kObjects; ++o) {
    const std::string name = "r" + std::to_string(o);
    all[name] = testing::RandomBytes((2 << 20) + 777 * o, 300 + o);
    ArchiveOk(name, all[name]);
    acknowledged.insert(name);
  }
  // Calibrate on an undisturbed repair of one lost chunk.
  auto info = nlohmann::json::parse(Fls("info " + Store() + " r0 --json").out);
  ASSERT_TRUE(std::filesystem::remove(info["chunks"][1]["path"].get<std::string>()));
  const auto t0 = Clock::now();
  CmdResult r = Fls("repair " + Store() + " r0");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto span = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);

  std::mt19937_64 rng(1125);
  int killed_count = 0, acked = 0, temps_seen = 0;
  for (int i = 0; i < kRuns; ++i) {
    const std::string name = "r" + std::to_string(rng() % kObjects);
    info = nlohmann::json::parse(Fls("info " + Store() + " " + name + " --json").out);
    // Lose up to m = 2 chunks (one or two), or flip a byte in one.
    const int lose = 1 + static_cast<int>(rng() % 2);
    for (int l = 0; l < lose; ++l) {
      const auto& c = info["chunks"][(rng() % 6)];
      const std::string path = c["path"].get<std::string>();
      if (!std::filesystem::exists(path)) continue;
      if (rng() % 3 == 0)
        testing::FlipByte(path, 128 + rng() % 1000);
      else
        std::filesystem::remove(path);
    }
    const auto after = std::chrono::microseconds(rng() % (span.count() * 3 / 2 + 1));
    bool killed = false;
    std::vector<std::string> args = {"repair", "-q", "--store", dir_ / "store.yaml", name};
    acked += testing::RunAndMaybeKill(FLS_BINARY, args, after, &killed);
    killed_count += killed;
    temps_seen += CountTemps(dir_.path());
    // Killed or not, the object is still there and restores bit-exact (a
    // killed repair leaves either the old generation or the new one).
    CheckExpectedState(all, acknowledged, ("after repair run " + std::to_string(i)).c_str());
    // The next start finishes the job and cleans up.
    r = Fls("repair -q " + Store() + " " + name);
    ASSERT_EQ(r.rc, 0) << "repair run " << i << ": " << r.out;
    EXPECT_EQ(CountTemps(dir_.path()), 0) << "repair run " << i;
    r = Fls("verify --deep " + Store() + " " + name);
    EXPECT_EQ(r.rc, 0) << "repair run " << i << ": " << r.out;
  }
  CheckExpectedState(all, acknowledged, "at the end");
  std::printf(
      "crash-loop: repair runs=%d killed=%d acknowledged=%d temporaries-left-by-kills=%d "
      "(calibration %lld us)\n",
      kRuns, killed_count, acked, temps_seen, static_cast<long long>(span.count()));
  EXPECT_GT(killed_count, 0) << "no run was killed: the loop tested nothing";
}

TEST_F(CrashLoop, RestoreKilledAtRandomPoints) {
  constexpr int kRuns = 12;
  const std::string data = testing::RandomBytes((6 << 20) + 333, 77);
  ArchiveOk("big", data);
  // Degraded reads too: the restore reconstructs every stripe.
  auto info = nlohmann::json::parse(Fls("info " + Store() + " big --json").out);
  ASSERT_TRUE(std::filesystem::remove(info["chunks"][0]["path"].get<std::string>()));
  const std::string out_dir = dir_ / "out";
  std::filesystem::create_directories(out_dir);
  const std::string out = out_dir + "/big.bin";
  const auto t0 = Clock::now();
  CmdResult r = Fls("restore -q " + Store() + " big -o " + out);
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto span = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0);
  ASSERT_EQ(ReadFile(out), data);

  std::mt19937_64 rng(1201);
  int killed_count = 0, temps_seen = 0;
  for (int i = 0; i < kRuns; ++i) {
    // Half of the runs start with no output, half over the previous output.
    const bool had_output = rng() % 2 == 0;
    if (!had_output) std::filesystem::remove(out);
    const auto after = std::chrono::microseconds(rng() % (span.count() * 3 / 2 + 1));
    bool killed = false;
    testing::RunAndMaybeKill(FLS_BINARY,
                             {"restore", "-q", "--store", dir_ / "store.yaml", "big", "-o", out},
                             after, &killed);
    killed_count += killed;
    temps_seen += CountTemps(out_dir);
    // Killed or not, the output is absent or whole: never a part.
    if (std::filesystem::exists(out))
      EXPECT_EQ(ReadFile(out), data) << "run " << i << ": a partial output is visible";
    else
      EXPECT_FALSE(had_output) << "run " << i << ": the previous output was removed";
    // The next restore into that directory removes what the killed one left.
    r = Fls("restore -q " + Store() + " big -o " + out);
    ASSERT_EQ(r.rc, 0) << "run " << i << ": " << r.out;
    EXPECT_EQ(CountTemps(out_dir), 0) << "run " << i;
    EXPECT_EQ(ReadFile(out), data) << "run " << i;
  }
  std::printf(
      "crash-loop: restore runs=%d killed=%d temporaries-left-by-kills=%d (calibration %lld us)\n",
      kRuns, killed_count, temps_seen, static_cast<long long>(span.count()));
  EXPECT_GT(killed_count, 0) << "no run was killed: the loop tested nothing";
}

}  // namespace
}  // namespace fls
