// Longer end-to-end runs of the job service (label `slow`): a thousand small
// files in one job, and the service killed with SIGKILL in the middle of a
// 200-file job, then restarted.
#include <set>

#include "fls/archive.h"
#include "fls/env.h"
#include "fls/store.h"
#include "fls/pack.h"
#include "service_harness.h"

namespace fls::service::testing {
namespace {

TEST(ServiceSlow, ThousandSmallFilesInOneJob) {
  ServiceOptions o;
  o.pack_max_files = 256;
  ServiceHarness h(o);
  h.Start();
  auto files = h.MakeFiles("thousand", 1000, 8192, 42);
  const auto t0 = std::chrono::steady_clock::now();
  const std::int64_t id = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/thousand"}}});
  Json r = h.WaitJob(id, 240000);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r["state"], "done") << r.dump();
  EXPECT_EQ(r["items_done"], 1000);
  std::printf("1000 small files archived in one job in %.2f s\n", s);
  h.ExpectRestoresBitExact(files, "thousand");
}

// Every object of the store, by name, and every packed file, by name (its
// member record): each must appear exactly once. A pack whose job was
// killed after its manifest committed and before its member records may
// also list a file in its index: that copy is dead space (no record names
// it), and the file is packed again by the restarted job.
void ExpectNoDuplicates(const ServiceHarness& h, std::size_t expect_files) {
  std::vector<Target> targets;
  for (const auto& t : h.targets()) targets.push_back({t, ""});
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::FromTargets(Env::Default(), targets, &store).ok());
  const Catalog c = store->ReadCatalog();
  std::map<std::string, int> stored;
  for (const auto& e : c.objects)
    if (!IsPackName(e.manifest.name)) ++stored[e.manifest.name];
  std::vector<std::string> problems;
  WalkMembers(
      *store,
      [&](MemberEntry& m) {
        ++stored[m.member.name];
        return true;
      },
      &problems);
  EXPECT_TRUE(problems.empty()) << problems.front();
  for (const auto& [name, n] : stored) EXPECT_EQ(n, 1) << name << " stored " << n << " times";
  EXPECT_EQ(stored.size(), expect_files);
}

TEST(ServiceSlow, KilledWithSigkillDuringA200FileJobAndRestarted) {
  ServiceOptions o;
  o.pack_max_files = 8;  // 25 packs: many commit points to be killed between
  ServiceHarness h(o);
  h.Start();
  auto a = h.MakeFiles("a", 200, 6000, 7);
  auto b = h.MakeFiles("b", 20, 6000, 8);
  std::map<std::string, std::string> big;
  for (int i = 0; i < 3; ++i) {
    const std::string p = h.src() + "/big/f" + std::to_string(i);
    big[p] = RandomString(300000 + i, 100 + i);  // above the 64 KiB pack threshold
    WriteFile(p, big[p]);
  }
  const std::int64_t ja = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/a"}}});
  const std::int64_t jb = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/b"}}});
  const std::int64_t jc = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/big"}}});
  int kills = 0;
  for (int threshold : {8, 64}) {
    Json st = h.WaitUntil(ja, [&](const Json& j) {
      return j.value("items_done", 0) >= threshold || j.value("state", "") == "done";
    });
    if (st.value("state", "") == "done") break;
    h.service().Kill(SIGKILL);
    ++kills;
    h.Start();  // same journal, same targets
  }
  EXPECT_GE(kills, 1) << "the job ended before the service could be killed";
  for (auto id : {ja, jb, jc}) {
    Json r = h.WaitJob(id, 120000);
    EXPECT_EQ(r["state"], "done") << r.dump();
  }
  Json ra = h.Call("STATUS", {{"job_id", ja}});
  EXPECT_EQ(ra["items_done"], 200);
  std::map<std::string, std::string> all = a;
  all.insert(b.begin(), b.end());
  all.insert(big.begin(), big.end());
  h.ExpectRestoresBitExact(all, "after-kill");
  ExpectNoDuplicates(h, all.size());
  // Deep verify of everything: no object is half-written. A kill between two
  // manifest copies leaves an object committed (all chunks durable, some
  // manifest copies written) with fewer copies than expected: verify calls
  // that degraded, and repair restores the missing copies.
  const std::int64_t v = h.Submit({{"kind", "verify"}, {"deep", true}});
  Json vr = h.WaitJob(v, 120000, true);
  for (const auto& item : vr["items"])
    if (item["state"] != "done")
      EXPECT_NE(item.value("error", "").find("manifest copies"), std::string::npos) << item.dump();
  const std::int64_t rep = h.Submit({{"kind", "repair"}});
  EXPECT_EQ(h.WaitJob(rep, 120000)["state"], "done");
  const std::int64_t v2 = h.Submit({{"kind", "verify"}, {"deep", true}});
  Json vr2 = h.WaitJob(v2, 120000);
  EXPECT_EQ(vr2["state"], "done") << vr2.dump();
  EXPECT_EQ(vr2["items_failed"], 0);
}

}  // namespace
}  // namespace fls::service::testing
