// The check-then-use race of issue 12, run for real: while the service
// archives 1,000 files from a directory and restores 1,000 files into one, a
// thread swaps that directory for a symbolic link to a directory outside the
// roots and back (renameat2 RENAME_EXCHANGE: atomic, every millisecond or so).
// Every file open is one try. Each item must either succeed with the inside
// bytes or fail naming the link; outside, nothing may change and no file may
// appear; PING must answer afterwards. Under both resolvers.
#include <gtest/gtest.h>
#include <stdio.h>

#include <atomic>
#include <thread>

#include "tests/service/confinement_util.h"

namespace fls::service::testing {
namespace {

// Swaps two names (a directory and a symbolic link) until stopped; leaves
// the directory under its first name.
class Flipper {
 public:
  Flipper(std::string dir, std::string link) : dir_(std::move(dir)), link_(std::move(link)) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        if (::renameat2(AT_FDCWD, dir_.c_str(), AT_FDCWD, link_.c_str(), RENAME_EXCHANGE) == 0)
          ++flips_;
        // Each state lasts a moment, so that both outcomes occur (flat out,
        // nearly every open found the link). The worker's fsyncs pace it too:
        // restores, fsync-bound, mostly meet the link; every try races.
        std::this_thread::sleep_for(std::chrono::microseconds(1000));
      }
    });
  }
  int Stop() {
    stop_ = true;
    thread_.join();
    if (fs::is_symlink(dir_))
      ::renameat2(AT_FDCWD, dir_.c_str(), AT_FDCWD, link_.c_str(), RENAME_EXCHANGE);
    return flips_.load();
  }

 private:
  std::string dir_, link_;
  std::atomic<bool> stop_{false};
  std::atomic<int> flips_{0};
  std::thread thread_;
};

constexpr int kFiles = 1000;

class ConfinementRace : public ResolverTest {};

TEST_P(ConfinementRace, DirectorySwappedForALinkWhileJobsRun) {
  ServiceOptions o;
  o.pack_max_files = 256;
  o.log_level = "info";
  ServiceHarness h(o);
  h.Start();
  Outside out(h.dir());
  for (int i = 0; i < kFiles; ++i) {
    const std::string n = "/f" + std::to_string(i);
    WriteFile(h.src() + "/race/d" + n, "inside " + std::to_string(i));
    WriteFile(out.dir() + "/rd" + n, "CANARY " + std::to_string(i));
    WriteFile(h.src() + "/rs" + n, "restored " + std::to_string(i));
  }
  fs::create_directories(out.dir() + "/empty");
  fs::create_directory_symlink(out.dir() + "/rd", h.src() + "/race/swap");
  fs::create_directories(h.out() + "/race/d");
  fs::create_directory_symlink(out.dir() + "/empty", h.out() + "/race/swap");
  // The objects of the restore half, archived before any flipping.
  Json r = h.WaitJob(h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/rs"}}}), 120000);
  ASSERT_EQ(r["state"], "done") << r.dump();
  const auto before = out.Snapshot();
  const std::set<std::string> canaries = out.CanaryDigests();

  // Archive from the directory while it flips. SUBMIT lists the files
  // first; the worker then opens each (twice: to size it, to read it).
  const std::int64_t archive = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/race/d"}}});
  ASSERT_GT(archive, 0);
  Flipper flip_src(h.src() + "/race/d", h.src() + "/race/swap");
  Json a = h.WaitJob(archive, 120000, true);
  const int src_flips = flip_src.Stop();
  int archived = 0, refused = 0;
  for (const auto& item : a["items"]) {
    const std::string name = item["name"];
    if (item["state"] == "done") {
      ++archived;
      const std::string sha = item["result"]["sha256"];
      EXPECT_EQ(canaries.count(sha), 0u) << "read outside the roots: " << item.dump();
      EXPECT_EQ(sha, Sha256Hex(ReadFile(name))) << item.dump();
    } else {
      ++refused;
      EXPECT_NE(item.value("error", std::string()).find("symbolic link"), std::string::npos)
          << item.dump();
    }
  }
  EXPECT_EQ(archived + refused, kFiles);

  // Restore into the directory while it flips.
  Json objects = Json::array();
  for (int i = 0; i < kFiles; ++i)
    objects.push_back((h.src() + "/rs/f" + std::to_string(i)).substr(1));
  const std::int64_t restore =
      h.Submit({{"kind", "restore"}, {"objects", objects}, {"output", h.out() + "/race/d"}});
  ASSERT_GT(restore, 0);
  Flipper flip_out(h.out() + "/race/d", h.out() + "/race/swap");
  Json rr = h.WaitJob(restore, 120000, true);
  const int out_flips = flip_out.Stop();
  int restored = 0, out_refused = 0;
  for (const auto& item : rr["items"]) {
    const std::string name = item["name"];
    if (item["state"] == "done") {
      ++restored;
      EXPECT_EQ(ReadFile(h.out() + "/race/d/" + name), ReadFile("/" + name)) << name;
    } else {
      ++out_refused;
      EXPECT_NE(item.value("error", std::string()).find("symbolic link"), std::string::npos)
          << item.dump();
    }
  }
  EXPECT_EQ(restored + out_refused, kFiles);

  EXPECT_EQ(out.Snapshot(), before) << "something outside the roots changed";
  ExpectPing(h);
  std::printf(
      "race %s: archive %d tries (%d archived, %d refused, %d flips); restore %d tries (%d "
      "restored, %d refused, %d flips)\n",
      GetParam(), kFiles, archived, refused, src_flips, kFiles, restored, out_refused, out_flips);
  // A race that never raced proves nothing.
  EXPECT_GT(src_flips, 10);
  EXPECT_GT(out_flips, 10);
}

INSTANTIATE_TEST_SUITE_P(Resolvers, ConfinementRace, ::testing::Values("openat2", "walk"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace fls::service::testing
