// No byte read from or written outside the roots (issue 12, docs/SECURITY.md
// "Local users who can create files under the roots"): a real `fls serve`
// (and `fls worker`) on loopback, and a local user who plants symbolic links
// at every level of source and output paths, before SUBMIT and between SUBMIT
// and the run, hard links, FIFOs and device files. Outside the roots sit
// canary files whose bytes, mtimes and directory listings must be unchanged
// afterwards; every refusal must be clear; PING must still answer.
// Each test runs under both resolvers (FLS_BENEATH=openat2 | walk in the
// service's environment, host/beneath.h).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <map>

#include "fls/service/protocol.h"
#include "tests/service/confinement_util.h"
#include "tests/service/service_harness.h"

namespace fls::service::testing {
namespace {

class Confinement : public ResolverTest {};

// A link at each level of a source path, to the twin outside and to a place
// inside: SUBMIT refuses every one, naming the link; so does expanding a
// directory that contains one.
TEST_P(Confinement, LinksPlantedBeforeSubmitAreRefused) {
  ServiceHarness h;
  h.Start();
  Outside out(h.dir());
  const auto before = out.Snapshot();
  const std::vector<std::string> levels = {"l1", "l1/l2", "l1/l2/file"};
  for (std::size_t L = 0; L < levels.size(); ++L) {
    for (const bool to_outside : {true, false}) {
      const std::string top = h.src() + "/s" + std::to_string(L) + (to_outside ? "o" : "i");
      MakeTree(top, "inside");
      const std::string victim = top + "/" + levels[L];
      fs::rename(victim, victim + ".real");
      fs::create_symlink(to_outside ? out.Twin(levels[L]) : victim + ".real", victim);
      for (const std::string& path : {top + "/l1/l2/file", top}) {
        ProtocolErrorOf e = SubmitError(h, {{"kind", "archive"}, {"paths", {path}}});
        EXPECT_EQ(e.code, errc::kPathRejected) << path << ": " << e.message;
        EXPECT_NE(e.message.find("symbolic link"), std::string::npos) << e.message;
      }
    }
  }
  // Output directories: a link at each existing level of `output`.
  for (std::size_t L = 0; L < 3; ++L) {
    const std::string top = h.out() + "/o" + std::to_string(L);
    fs::create_directories(top + "/x/y");
    const std::string victim = top + (L == 0 ? "" : L == 1 ? "/x" : "/x/y");
    fs::rename(victim, victim + ".real");
    fs::create_directory_symlink(out.dir() + "/d", victim);
    ProtocolErrorOf e =
        SubmitError(h, {{"kind", "restore"}, {"objects", {"a"}}, {"output", top + "/x/y"}});
    EXPECT_EQ(e.code, errc::kPathRejected) << e.message;
    EXPECT_NE(e.message.find("symbolic link"), std::string::npos) << e.message;
  }
  EXPECT_EQ(out.Snapshot(), before);
  ExpectPing(h);
}

// The checks that matter run when the job does: links planted after SUBMIT
// (no worker yet, so the job waits), at every level of source paths (small
// files go through packs, large ones alone) and of output paths (the output
// directory, the directories an object name makes, the final file name).
// Every item fails naming the link; nothing outside changes.
TEST_P(Confinement, LinksPlantedAfterSubmitAreNotFollowedByTheWorker) {
  ServiceOptions o;
  o.in_process_workers = 0;
  ServiceHarness h(o);
  h.Start();
  Outside out(h.dir());
  // Objects to restore later, archived while all is well.
  MakeTree(h.src() + "/good", "good");
  h.StartWorker("w0");
  Json r = h.WaitJob(h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/good"}}}));
  ASSERT_EQ(r["state"], "done") << r.dump();
  h.StopWorkers();
  const std::vector<std::string> objects = {(h.src() + "/good/l1/l2/file").substr(1),
                                            (h.src() + "/good/l1/l2/large").substr(1)};
  const auto before = out.Snapshot();

  std::vector<std::int64_t> archive_jobs, restore_jobs;
  const std::vector<std::string> src_levels = {"l1", "l1/l2", "l1/l2/file"};
  for (std::size_t L = 0; L < src_levels.size(); ++L) {
    const std::string top = h.src() + "/a" + std::to_string(L);
    MakeTree(top, "inside");
    archive_jobs.push_back(
        h.Submit({{"kind", "archive"}, {"paths", {top + "/l1/l2/file", top + "/l1/l2/large"}}}));
  }
  // Output levels: 0-2 the output directory's own components, 3 the first
  // directory an object name makes, 4 the final file name.
  for (int L = 0; L < 5; ++L) {
    const std::string top = h.out() + "/r" + std::to_string(L);
    fs::create_directories(top + "/x/y");
    restore_jobs.push_back(
        h.Submit({{"kind", "restore"}, {"objects", objects}, {"output", top + "/x/y"}}));
  }
  ASSERT_EQ(h.Call("STATS", Json::object())["jobs"]["queued"], 8);
  // Now the local user strikes, with the jobs queued.
  for (std::size_t L = 0; L < src_levels.size(); ++L) {
    const std::string victim = h.src() + "/a" + std::to_string(L) + "/" + src_levels[L];
    fs::rename(victim, victim + ".real");
    fs::create_symlink(out.Twin(src_levels[L]), victim);
    if (L == 2) {  // the large file too, at its own level
      const std::string large = h.src() + "/a2/l1/l2/large";
      fs::rename(large, large + ".real");
      fs::create_symlink(out.dir() + "/l1/l2/large", large);
    }
  }
  for (int L = 0; L < 5; ++L) {
    const std::string top = h.out() + "/r" + std::to_string(L);
    std::string victim;
    if (L < 3) {
      victim = top + (L == 0 ? "" : L == 1 ? "/x" : "/x/y");
      fs::rename(victim, victim + ".real");
      fs::create_directory_symlink(out.dir() + "/d", victim);
    } else if (L == 3) {
      victim = top + "/x/y/" + objects[0].substr(0, objects[0].find('/'));
      fs::create_directory_symlink(out.dir() + "/d", victim);
    } else {
      for (const std::string& obj : objects) {
        fs::create_directories(fs::path(top + "/x/y/" + obj).parent_path());
        fs::create_symlink(out.dir() + "/f", top + "/x/y/" + obj);
      }
    }
  }
  h.StartWorker("w1");
  for (std::int64_t id : archive_jobs) ExpectEveryItemFailed(h, id, {"symbolic link"});
  for (std::int64_t id : restore_jobs)
    ExpectEveryItemFailed(h, id, {"symbolic link", "restore replaces regular files only"});
  EXPECT_EQ(out.Snapshot(), before);
  ExpectPing(h);
}

// Hard links, FIFOs and device files: refused at SUBMIT, and refused by the
// worker when swapped in after SUBMIT (a FIFO with no writer must not hang
// it). An output name that is a FIFO, a directory or a device is never
// replaced.
TEST_P(Confinement, HardLinksFifosAndDevicesAreRefused) {
  ServiceOptions o;
  o.in_process_workers = 0;
  ServiceHarness h(o);
  h.Start();
  Outside out(h.dir());
  const bool can_mknod = CanMknod(h.dir());
  if (!can_mknod) std::printf("confinement: mknod not permitted here: device cases skipped\n");
  MakeTree(h.src() + "/good", "good");
  h.StartWorker("w0");
  ASSERT_EQ(h.WaitJob(h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/good"}}}))["state"],
            "done");
  h.StopWorkers();
  const std::string object = (h.src() + "/good/l1/l2/file").substr(1);
  const auto before = out.Snapshot();
  // At SUBMIT.
  fs::create_directories(h.src() + "/special");
  ASSERT_EQ(::link((out.dir() + "/f").c_str(), (h.src() + "/special/hard").c_str()), 0);
  ASSERT_EQ(::mkfifo((h.src() + "/special/fifo").c_str(), 0644), 0);
  std::vector<std::pair<std::string, std::string>> cases = {{"hard", "hard links"},
                                                            {"fifo", "is a FIFO"}};
  if (can_mknod) {
    ASSERT_EQ(::mknod((h.src() + "/special/zero").c_str(), S_IFCHR | 0644, makedev(1, 5)), 0);
    cases.push_back({"zero", "is a character device"});
  }
  for (const auto& [name, why] : cases) {
    ProtocolErrorOf e =
        SubmitError(h, {{"kind", "archive"}, {"paths", {h.src() + "/special/" + name}}});
    EXPECT_EQ(e.code, errc::kPathRejected) << e.message;
    EXPECT_NE(e.message.find(why), std::string::npos) << e.message;
  }
  ProtocolErrorOf e = SubmitError(h, {{"kind", "archive"}, {"paths", {h.src() + "/special"}}});
  EXPECT_EQ(e.code, errc::kPathRejected) << e.message;
  // After SUBMIT: regular files swapped for each kind.
  MakeTree(h.src() + "/late", "late");
  const std::string late = h.src() + "/late/l1/l2/";
  WriteFile(late + "third", "third");
  const std::int64_t job =
      h.Submit({{"kind", "archive"}, {"paths", {late + "file", late + "large", late + "third"}}});
  fs::remove(late + "file");
  ASSERT_EQ(::mkfifo((late + "file").c_str(), 0644), 0);
  fs::remove(late + "large");
  ASSERT_EQ(::link((out.dir() + "/f").c_str(), (late + "large").c_str()), 0);
  fs::remove(late + "third");
  if (can_mknod)
    ASSERT_EQ(::mknod((late + "third").c_str(), S_IFCHR | 0644, makedev(1, 5)), 0);
  else
    ASSERT_EQ(::mkfifo((late + "third").c_str(), 0644), 0);
  // Restore outputs that exist as a FIFO, a directory, a device.
  std::vector<std::int64_t> restores;
  for (int k = 0; k < 3; ++k) {
    const std::string dir = h.out() + "/special" + std::to_string(k);
    const std::string target = dir + "/" + object;
    fs::create_directories(fs::path(target).parent_path());
    if (k == 0) ASSERT_EQ(::mkfifo(target.c_str(), 0644), 0);
    if (k == 1) fs::create_directories(target);
    if (k == 2 && !(can_mknod && ::mknod(target.c_str(), S_IFCHR | 0644, makedev(1, 5)) == 0))
      ASSERT_EQ(::mkfifo(target.c_str(), 0644), 0);
    restores.push_back(h.Submit({{"kind", "restore"}, {"objects", {object}}, {"output", dir}}));
  }
  h.StartWorker("w1");
  ExpectEveryItemFailed(h, job, {"is a FIFO", "hard links", "is a character device"});
  for (std::int64_t id : restores)
    ExpectEveryItemFailed(h, id, {"restore replaces regular files only"});
  EXPECT_EQ(out.Snapshot(), before);
  // Nothing outside was archived: no object has a canary's digest.
  const std::set<std::string> canaries = out.CanaryDigests();
  Json list = h.Call("LIST", {{"limit", 1000}});
  for (const auto& j : list["jobs"]) {
    Json st = h.Call("STATUS", {{"job_id", j["job_id"]}, {"files", true}});
    for (const auto& item : st["items"])
      if (item.contains("result") && item["result"].contains("sha256"))
        EXPECT_EQ(canaries.count(item["result"]["sha256"].get<std::string>()), 0u) << item.dump();
  }
  ExpectPing(h);
}

INSTANTIATE_TEST_SUITE_P(Resolvers, Confinement, ::testing::Values("openat2", "walk"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace fls::service::testing
