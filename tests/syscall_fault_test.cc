// Fault injection on real system calls: the `fls` binary run under libfiu's
// fiu-run (Debian fiu-utils), which makes write, fdatasync, fsync, rename and
// pread fail at random (EIO, ENOSPC) or write short. For every run:
//   - a failed command exits non-zero and says why (the errno text), unless
//     the injected fault ate its own stderr write (counted separately);
//   - nothing half-written is visible: a listed object restores bit-exact;
//   - an object that was archived before the faults still restores;
//   - temporaries are gone after the next (fault-free) writer starts.
// Fixed probabilities and run counts; counts go to stdout ("fault-loop: ...")
// for docs/RELIABILITY.md. Skipped, with the reason, where fiu-run is absent.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "archive_test_util.h"
#include "test_paths.h"

namespace fls {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

using testing::CmdResult;
using testing::Shell;

CmdResult Fls(const std::string& args) { return Shell(std::string(FLS_BINARY) + " " + args); }

// `fls args` with one libfiu failure point enabled at random.
CmdResult FlsUnderFault(const std::string& point, double probability, int err,
                        const std::string& args) {
  char spec[256];
  std::snprintf(spec, sizeof spec, "enable_random name=%s,probability=%g%s", point.c_str(),
                probability, err ? (",failinfo=" + std::to_string(err)).c_str() : "");
  return Shell("fiu-run -x -c '" + std::string(spec) + "' " + FLS_BINARY + " " + args);
}

int CountTemps(const std::string& root) {
  int n = 0;
  for (const auto& p : testing::AllFiles(root))
    if (IsTempName(BaseName(p))) ++n;
  return n;
}

struct Fault {
  const char* point;
  int err;           // errno (failinfo); 0: libfiu's choice (short writes)
  const char* text;  // what the error message must name
  double probability;
};

class SyscallFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Shell("command -v fiu-run").rc != 0) GTEST_SKIP() << "fiu-run not installed (fiu-utils)";
    std::string yaml = "targets:\n";
    for (int i = 0; i < 6; ++i) {
      std::filesystem::create_directories(dir_ / ("t" + std::to_string(i)));
      yaml += "  - path: t" + std::to_string(i) + "\n";
    }
    WriteFile(dir_ / "store.yaml", yaml);
    before_ = testing::RandomBytes(700000, 7);
    WriteFile(dir_ / "before.bin", before_);
    CmdResult r = Fls("archive -q " + Store() + " -k 4 -m 2 --stripe 64K " + dir_ / "before.bin");
    ASSERT_EQ(r.rc, 0) << r.out;
  }
  std::string Store() const { return "--store " + dir_ / "store.yaml"; }

  std::set<std::string> Listed() {
    CmdResult r = Fls("ls --json " + Store());
    EXPECT_EQ(r.rc, 0) << r.out;
    std::set<std::string> names;
    std::size_t start = 0;
    while (start < r.out.size()) {
      std::size_t end = r.out.find('\n', start);
      if (end == std::string::npos) end = r.out.size();
      const std::string line = r.out.substr(start, end - start);
      if (!line.empty() && line[0] == '{')
        names.insert(nlohmann::json::parse(line)["name"].get<std::string>());
      start = end + 1;
    }
    return names;
  }

  // Every listed object restores bit-exact; returns how many were listed.
  void CheckNoLoss(const std::map<std::string, std::string>& all, const std::string& when) {
    for (const auto& name : Listed()) {
      ASSERT_TRUE(all.count(name)) << when << ": unknown object " << name;
      std::filesystem::remove(dir_ / "out.bin");
      CmdResult r = Fls("restore " + Store() + " " + name + " -o " + dir_ / "out.bin");
      ASSERT_EQ(r.rc, 0) << when << ": " << name << ": " << r.out;
      EXPECT_TRUE(ReadFile(dir_ / "out.bin") == all.at(name)) << when << ": " << name;
    }
  }

  TempDir dir_;
  std::string before_;
};

TEST_F(SyscallFaults, ArchiveUnderWriteFsyncRenameFaults) {
  const Fault faults[] = {
      {"posix/io/rw/write", 5, "Input/output error", 0.02},
      {"posix/io/rw/write", 28, "No space left on device", 0.02},
      {"posix/io/sync/fdatasync", 5, "Input/output error", 0.05},
      {"posix/io/sync/fdatasync", 28, "No space left on device", 0.05},
      {"posix/io/sync/fsync", 5, "Input/output error", 0.2},
      {"posix/io/dir/rename", 5, "Input/output error", 0.1},
      {"posix/io/dir/rename", 28, "No space left on device", 0.1},
      {"posix/io/rw/write/reduce", 0, "", 0.3},  // short writes: must be retried
  };
  constexpr int kRuns = 8;
  std::map<std::string, std::string> all = {{"before.bin", before_}};
  for (const Fault& f : faults) {
    int failed = 0, named = 0, silent = 0, ok = 0;
    for (int i = 0; i < kRuns; ++i) {
      const std::string name =
          std::string(f.point) + "-" + std::to_string(f.err) + "-" + std::to_string(i);
      std::string data = testing::RandomBytes(300000 + 4096 * i, 1000 + i);
      WriteFile(dir_ / "src.bin", data);
      all[name] = data;
      CmdResult r = FlsUnderFault(
          f.point, f.probability, f.err,
          "archive " + Store() + " -k 4 -m 2 --stripe 64K --name " + name + " " + dir_ / "src.bin");
      if (r.rc == 0) {
        ++ok;
      } else {
        ++failed;
        EXPECT_NE(r.rc, -1) << "crashed: " << r.out;
        if (r.out.find("fls archive:") == std::string::npos) {
          ++silent;  // the fault hit the write of the message itself
        } else {
          EXPECT_NE(r.out.find(f.text), std::string::npos) << f.point << ": " << r.out;
          named += r.out.find(f.text) != std::string::npos;
        }
      }
      CheckNoLoss(all, std::string(f.point) + " run " + std::to_string(i));
    }
    // The next fault-free writer cleans up; everything listed still restores.
    WriteFile(dir_ / "src.bin", "clean start");
    all[std::string("next-") + f.point + std::to_string(f.err)] = "clean start";
    CmdResult r = Fls("archive -q " + Store() + " --name next-" + f.point + std::to_string(f.err) +
                      " -k 4 -m 2 " + dir_ / "src.bin");
    ASSERT_EQ(r.rc, 0) << r.out;
    EXPECT_EQ(CountTemps(dir_.path()), 0) << f.point;
    std::printf(
        "fault-loop: archive %s errno=%d p=%g runs=%d failed=%d named=%d "
        "message-eaten=%d succeeded=%d\n",
        f.point, f.err, f.probability, kRuns, failed, named, silent, ok);
    if (f.err == 0) EXPECT_EQ(failed, 0) << "short writes must be retried, not fail";
  }
  CheckNoLoss(all, "at the end");
  EXPECT_TRUE(Listed().count("before.bin"));
  // Degraded objects (a manifest copy lost to a fault) are whole after repair.
  CmdResult r = Fls("repair -q " + Store());
  EXPECT_EQ(r.rc, 0) << r.out;
  r = Fls("verify --deep " + Store());
  EXPECT_EQ(r.rc, 0) << r.out;
}

TEST_F(SyscallFaults, RestoreAndRepairUnderReadAndWriteFaults) {
  constexpr int kRuns = 10;
  std::map<std::string, std::string> all = {{"before.bin", before_}};
  int restored = 0, restore_failed = 0, restore_named = 0, leftovers = 0;
  for (int i = 0; i < kRuns; ++i) {
    const std::string out = dir_ / ("r" + std::to_string(i) + ".bin");
    CmdResult r =
        FlsUnderFault("posix/io/rw/pread", 0.05, 5, "restore " + Store() + " before.bin -o " + out);
    if (r.rc == 0) {
      ++restored;
      EXPECT_TRUE(ReadFile(out) == before_) << "restore under read faults returned wrong bytes";
    } else {
      ++restore_failed;
      // Either the errno text or the chunk named as unreadable / read error.
      const bool named = r.out.find("Input/output error") != std::string::npos ||
                         r.out.find("read error at") != std::string::npos ||
                         r.out.find("unreadable at") != std::string::npos;
      EXPECT_TRUE(named) << r.out;
      restore_named += named;
      leftovers += std::filesystem::exists(out);
      EXPECT_FALSE(std::filesystem::exists(out)) << "failed restore left " << out;
    }
  }
  std::printf(
      "fault-loop: restore posix/io/rw/pread errno=5 p=0.05 runs=%d restored-bit-exact=%d "
      "failed=%d named=%d output-left-behind=%d\n",
      kRuns, restored, restore_failed, restore_named, leftovers);
  // Repair of a damaged object while its writes fail: the old generation must
  // stay restorable whatever happens.
  int repaired = 0, repair_failed = 0;
  for (int i = 0; i < kRuns; ++i) {
    auto info = nlohmann::json::parse(Fls("info " + Store() + " before.bin --json").out);
    std::filesystem::remove(info["chunks"][i % 6]["path"].get<std::string>());
    CmdResult r = FlsUnderFault("posix/io/rw/write", 0.03, 5, "repair " + Store() + " before.bin");
    (r.rc == 0 ? repaired : repair_failed)++;
    CheckNoLoss(all, "repair run " + std::to_string(i));
    r = Fls("repair -q " + Store() + " before.bin");  // the next clean start completes it
    ASSERT_EQ(r.rc, 0) << r.out;
    EXPECT_EQ(CountTemps(dir_.path()), 0);
  }
  std::printf("fault-loop: repair posix/io/rw/write errno=5 p=0.03 runs=%d repaired=%d failed=%d\n",
              kRuns, repaired, repair_failed);
}

}  // namespace
}  // namespace fls
