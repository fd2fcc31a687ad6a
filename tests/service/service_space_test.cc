// End-to-end: STATS carries the store's space totals (fls/space_report.h),
// computed in the background at start and again after an archive job, with
// their age; the numbers match a ReportSpace of the same targets.
#include <chrono>
#include <thread>

#include "fls/service/config.h"
#include "fls/space_report.h"
#include "service_harness.h"

namespace fls::service::testing {
namespace {

// STATS until `pred` holds for its "space" (bounded: 60 s).
Json WaitSpace(ServiceHarness& h, const std::function<bool(const Json&)>& pred) {
  Json space;
  for (int i = 0; i < 600; ++i) {
    space = h.Call("STATS", Json::object())["space"];
    if (pred(space)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return space;
}

TEST(ServiceSpace, StatsCarriesTheTotalsAfterAnArchiveJob) {
  ServiceOptions o;
  o.in_process_workers = 1;
  o.service_yaml = "  space_interval: 200ms\n";
  ServiceHarness h(o);
  h.Start();
  // The computation at start: an empty store.
  Json space = WaitSpace(h, [](const Json& s) { return s.value("state", "") == "ready"; });
  ASSERT_EQ(space["state"], "ready") << space.dump();
  EXPECT_EQ(space["objects"], 0) << space.dump();
  EXPECT_EQ(space["live_source_bytes"], 0) << space.dump();
  EXPECT_TRUE(space["overhead_ratio"].is_null()) << space.dump();
  EXPECT_DOUBLE_EQ(space["interval_seconds"].get<double>(), 0.2);
  EXPECT_GE(space["age_seconds"].get<double>(), 0.0);

  std::uint64_t source = 0;
  for (int i = 0; i < 6; ++i) {
    // Three files of their own (above the 64K threshold) and three packed.
    const std::string data = RandomString(i < 3 ? 100000 + 777 * i : 3000 + i, 7 + i);
    WriteFile(h.src() + "/d/f" + std::to_string(i), data);
    source += data.size();
  }
  const std::int64_t id = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/d"}}});
  ASSERT_GT(id, 0);
  ASSERT_EQ(h.WaitJob(id, 120000)["state"], "done");
  space = WaitSpace(h, [&](const Json& s) {
    return s.value("state", "") == "ready" && s.value("live_source_bytes", 0ull) == source;
  });
  ASSERT_EQ(space["live_source_bytes"], source) << space.dump();
  EXPECT_EQ(space["objects"], 4) << space.dump();  // three files and one pack
  EXPECT_EQ(space["packs"], 1) << space.dump();
  EXPECT_EQ(space["live_members"], 3) << space.dump();
  EXPECT_EQ(space["total"]["data"], source) << space.dump();
  EXPECT_FALSE(space.contains("targets")) << space.dump();

  // The same numbers as a report made here, once the store is quiet.
  std::vector<Target> targets;
  for (const std::string& t : h.targets()) targets.push_back({t, ""});
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::FromTargets(Env::Default(), targets, &store).ok());
  SpaceReport r;
  ASSERT_TRUE(ReportSpace(*store, &r).ok());
  EXPECT_EQ(space["total"]["total"], r.total.total()) << space.dump();
  EXPECT_EQ(space["total"]["allocated"], r.total.allocated()) << space.dump();
  EXPECT_EQ(space["total"]["parity"], r.total.parity) << space.dump();
  EXPECT_DOUBLE_EQ(space["overhead_ratio"].get<double>(), r.overhead_ratio);
}

TEST(ServiceSpace, IntervalConfig) {
  const std::string base = "store:\n  targets: [/a]\nroots: {source: [/]}\nservice:\n";
  ServiceConfig c;
  ASSERT_TRUE(
      ParseServiceConfig("store:\n  targets: [/a]\nroots: {source: [/]}\n", "ok.yaml", &c).ok());
  EXPECT_EQ(c.space_interval_ms, 60000);
  ASSERT_TRUE(ParseServiceConfig(base + "  space_interval: 5s\n", "ok.yaml", &c).ok());
  EXPECT_EQ(c.space_interval_ms, 5000);
  const std::pair<std::string, std::string> bad[] = {
      {"  space_interval: 50ms\n",
       "bad.yaml:5:19: key 'service.space_interval': must be at "
       "least 100ms"},
      {"  space_interval: 0\n", "key 'service.space_interval': must be at least 100ms"},
      {"  space_interval: soon\n", "key 'service.space_interval': must be a duration"}};
  for (const auto& [yaml, expect] : bad) {
    Status s = ParseServiceConfig(base + yaml, "bad.yaml", &c);
    EXPECT_NE(s.message().find(expect), std::string::npos) << s.ToString();
  }
}

}  // namespace
}  // namespace fls::service::testing
