// End-to-end: the service's delete and compact jobs on a real service over
// loopback: an archive job with retain_until, deletes refused by retention
// until overridden (and logged), deletes of files and packed files (one item
// each; a missing name fails its item, or not with force), a compact job that
// reclaims the deleted packed files, a scheduled compaction from the
// `compact:` section, and the section's config errors.
#include <chrono>
#include <thread>

#include "fls/pack.h"
#include "fls/service/config.h"
#include "service_harness.h"

namespace fls::service::testing {
namespace {

std::unique_ptr<Store> OpenTargets(ServiceHarness& h) {
  std::vector<Target> targets;
  for (const std::string& t : h.targets()) targets.push_back({t, ""});
  std::unique_ptr<Store> store;
  EXPECT_TRUE(Store::FromTargets(Env::Default(), targets, &store).ok());
  return store;
}

int Packs(const Store& store) {
  int packs = 0;
  CatalogWalk walk;
  store.WalkCatalog(
      [&](CatalogEntry& e) {
        packs += IsPackName(e.manifest.name);
        return true;
      },
      &walk);
  return packs;
}

TEST(ServiceDelete, DeleteAndCompactJobs) {
  ServiceOptions o;
  o.in_process_workers = 1;
  o.extra_yaml = "compact:\n  interval: 300ms\n  min_dead_percent: 30\n";
  ServiceHarness h(o);
  h.Start();
  for (int i = 0; i < 8; ++i)
    WriteFile(h.src() + "/d/f" + std::to_string(i), RandomString(i == 0 ? 100000 : 3000 + i, i));
  WriteFile(h.src() + "/keep/k", RandomString(2000, 99));
  std::int64_t id = h.Submit(
      {{"kind", "archive"}, {"paths", {h.src() + "/keep"}}, {"retain_until", "2099-01-01"}});
  ASSERT_EQ(h.WaitJob(id, 120000)["state"], "done");
  id = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/d"}}});
  ASSERT_EQ(h.WaitJob(id, 120000)["state"], "done");
  const std::string d = h.src().substr(1) + "/d/", keep = h.src().substr(1) + "/keep/k";
  // A bad retain_until is refused at SUBMIT.
  Json reply;
  Status refused = h.Client().Call(
      "SUBMIT", {{"kind", "archive"}, {"paths", {h.src() + "/d"}}, {"retain_until", "soon"}}, 5000,
      &reply);
  EXPECT_FALSE(refused.ok()) << reply.dump();
  EXPECT_NE(refused.ToString().find("retain_until"), std::string::npos) << refused.ToString();

  // Retention: refused, then overridden (logged).
  id = h.Submit({{"kind", "delete"}, {"objects", {keep}}});
  Json job = h.WaitJob(id, 60000, true);
  EXPECT_EQ(job["state"], "failed") << job.dump();
  EXPECT_NE(job.dump().find("retained until 2099-01-01T00:00:00Z"), std::string::npos)
      << job.dump();
  id = h.Submit({{"kind", "delete"}, {"objects", {keep}}, {"override_retention", true}});
  EXPECT_EQ(h.WaitJob(id, 60000)["state"], "done");
  EXPECT_NE(h.log().find("RETENTION OVERRIDDEN"), std::string::npos);

  // The large file, four packed files and a missing name (its item fails).
  id = h.Submit({{"kind", "delete"},
                 {"objects", {d + "f0", d + "f1", d + "f2", d + "f3", d + "f4", d + "nope"}}});
  job = h.WaitJob(id, 60000, true);
  EXPECT_EQ(job["state"], "failed") << job.dump();
  EXPECT_EQ(job["items_failed"], 1) << job.dump();
  id = h.Submit({{"kind", "delete"}, {"objects", {d + "nope"}}, {"force", true}});
  EXPECT_EQ(h.WaitJob(id, 60000)["state"], "done");

  std::unique_ptr<Store> store = OpenTargets(h);
  for (const std::string& gone : {d + "f0", d + "f3", keep}) {
    Located l;
    EXPECT_EQ(LocateName(*store, gone, &l).code(), Status::Code::kNotFound) << gone;
  }
  // Two packs (keep/k's, now with no live file, and d's, half dead). The
  // scheduled compactions leave packs younger than 10 minutes; a client's
  // job with min_age_seconds 0 reclaims both: one new pack of d's survivors.
  EXPECT_EQ(Packs(*store), 2);
  for (int i = 0; i < 100 && h.log().find("scheduled compaction") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_NE(h.log().find("scheduled compaction"), std::string::npos) << "no compact job queued";
  EXPECT_EQ(Packs(*store), 2);
  id = h.Submit({{"kind", "compact"}, {"min_dead_percent", 30}, {"min_age_seconds", 0}});
  job = h.WaitJob(id, 60000, true);
  EXPECT_EQ(job["state"], "done") << job.dump();
  EXPECT_EQ(Packs(*store), 1);
  for (int i = 5; i < 8; ++i) {
    Located l;
    EXPECT_TRUE(LocateName(*store, d + "f" + std::to_string(i), &l).ok()) << i;
  }
}

TEST(ServiceDelete, CompactConfig) {
  const std::string base = "store:\n  targets: [/a]\nroots: {source: [/]}\n";
  ServiceConfig c;
  ASSERT_TRUE(ParseServiceConfig(base, "ok.yaml", &c).ok());
  EXPECT_EQ(c.compact.interval_ms, 0);
  ASSERT_TRUE(
      ParseServiceConfig(base + "compact:\n  interval: 1h\n  min_dead_percent: 25\n", "ok.yaml", &c)
          .ok());
  EXPECT_EQ(c.compact.interval_ms, 3600000);
  EXPECT_DOUBLE_EQ(c.compact.min_dead_percent, 25);
  for (const std::string bad :
       {"compact:\n  interval: 5ms\n", "compact:\n  min_dead_percent: 150\n",
        "compact:\n  min_dead_percent: lots\n", "compact:\n  every: 1h\n"}) {
    Status s = ParseServiceConfig(base + bad, "bad.yaml", &c);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_NE(s.ToString().find("compact"), std::string::npos) << s.ToString();
  }
}

}  // namespace
}  // namespace fls::service::testing
