// End-to-end: an archive job of several medium files runs its pipelines at
// once over the worker's coalescing backend (fls/batching_backend.h), so one
// backend call carries the stripes of more than one file; every file still
// restores bit-exact.
#include "fls/geometry.h"
#include "service_harness.h"

namespace fls::service::testing {
namespace {

TEST(ServiceBatching, StripesOfManyFilesShareBackendCalls) {
  ServiceOptions o;
  o.in_process_workers = 1;
  // A generous latency limit: pipelines that are still reading are waited
  // for, so the test does not depend on the machine's speed.
  o.batch_yaml = "  max_latency_ms: 2000\n  files_in_flight: 4\n  max_bytes: 64M\n";
  ServiceHarness h(o);
  h.Start();
  std::map<std::string, std::string> files;
  for (int i = 0; i < 8; ++i) {
    const std::string path = h.src() + "/medium/f" + std::to_string(i);
    files[path] = RandomString((1u << 20) + i * (256u << 10) + 13 * i, 40 + i);  // 1-2.75 MiB
    WriteFile(path, files[path]);
  }
  const std::int64_t id = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/medium"}}});
  ASSERT_GT(id, 0);
  Json r = h.WaitJob(id, 120000, true);
  ASSERT_EQ(r["state"], "done") << r.dump();
  ASSERT_EQ(r["items_done"], 8);
  for (const auto& item : r["items"]) EXPECT_FALSE(item["result"].contains("pack")) << item.dump();

  Json stats = h.Call("STATS", Json::object());
  const Json& b = stats["batching"];
  ASSERT_TRUE(b.is_object()) << stats.dump();
  EXPECT_EQ(b["jobs"], 1) << b.dump();
  // Each file (under 8 MiB of data) is one stripe batch of its full
  // stripes and, when its last stripe is short, one of that stripe (a
  // backend call takes one block size): 1 + 7 * 2 requests for 4 + 2
  // blocks of 64 KiB (the harness's stripe of 256K).
  std::uint64_t stripes = 0, requests = 0;
  for (const auto& [path, bytes] : files) {
    const StripeGeometry g = StripeGeometry::Sized(4, 64u << 10, bytes.size());
    stripes += g.stripes();
    requests += g.last_block() == g.full_block() ? 1 : 2;
  }
  EXPECT_EQ(requests, 15u);
  EXPECT_EQ(b["requests"], requests) << b.dump();
  EXPECT_EQ(b["stripes"], stripes) << b.dump();
  EXPECT_LT(b["backend_calls"].get<int>(), 8) << b.dump();
  EXPECT_GT(b["files_per_call"].get<double>(), 1.0) << b.dump();
  EXPECT_GT(b["stripes_per_call"].get<double>(), static_cast<double>(stripes) / 8) << b.dump();

  h.ExpectRestoresBitExact(files, "r");
}

}  // namespace
}  // namespace fls::service::testing
