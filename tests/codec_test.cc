// Codec: decode plans (which shards are read, the rows) and their bounded cache.
#include <gtest/gtest.h>

#include <thread>

#include "fls/backend_registry.h"
#include "fls/codec.h"
#include "test_util.h"

namespace fls {
namespace {

std::unique_ptr<Codec> MakeCodec(int k, int m, std::size_t capacity = 4096) {
  std::unique_ptr<Codec> codec;
  EXPECT_TRUE(Codec::Create({k, m, MatrixKind::kCauchy}, &codec, capacity).ok());
  return codec;
}

TEST(Codec, PlanReadsTheFirstKPresentShards) {
  auto codec = MakeCodec(4, 2);
  std::vector<bool> present{false, true, true, true, true, true};
  std::vector<int> wanted{0};
  std::shared_ptr<const DecodePlan> plan;
  ASSERT_TRUE(codec->PlanFor(present, wanted, &plan).ok());
  EXPECT_EQ(plan->sources, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(plan->rows.rows(), 1u);
  EXPECT_EQ(plan->rows.cols(), 4u);
  // Wanting a present data shard yields its unit row.
  std::vector<int> want_present{2};
  ASSERT_TRUE(codec->PlanFor(present, want_present, &plan).ok());
  EXPECT_EQ(plan->rows.at(0, 1), 1);
  EXPECT_EQ(plan->rows.at(0, 0) | plan->rows.at(0, 2) | plan->rows.at(0, 3), 0);
}

TEST(Codec, PlanErrorsAreClear) {
  auto codec = MakeCodec(4, 2);
  std::shared_ptr<const DecodePlan> plan;
  std::vector<int> wanted{0};
  Status s = codec->PlanFor({false, false, false, true, true, true}, wanted, &plan);
  EXPECT_EQ(s.code(), Status::Code::kUnrecoverable);
  EXPECT_NE(s.message().find("only 3 of 6 shards present"), std::string::npos) << s.ToString();
  s = codec->PlanFor({true, true}, wanted, &plan);
  EXPECT_NE(s.message().find("expected k + m = 6"), std::string::npos) << s.ToString();
  s = codec->PlanFor(std::vector<bool>(6, true), {}, &plan);
  EXPECT_NE(s.message().find("no shard wanted"), std::string::npos) << s.ToString();
  std::vector<int> negative{-1};
  s = codec->PlanFor(std::vector<bool>(6, true), negative, &plan);
  EXPECT_NE(s.message().find("out of range"), std::string::npos) << s.ToString();
}

TEST(Codec, PlanCacheIsBoundedAndReused) {
  auto codec = MakeCodec(10, 4, /*capacity=*/8);
  std::shared_ptr<const DecodePlan> first, again;
  int made = 0;
  testing::ForEachSubset(14, 2, [&](const std::vector<int>& gone) {
    std::vector<bool> present(14, true);
    for (int g : gone) present[g] = false;
    std::shared_ptr<const DecodePlan> plan;
    ASSERT_TRUE(codec->PlanFor(present, gone, &plan).ok());
    if (made++ == 0) first = plan;
    EXPECT_LE(codec->cached_plans(), 8u);
  });
  EXPECT_EQ(codec->cached_plans(), 8u);
  // The most recent pattern is served from the cache: the very same object.
  std::vector<bool> present(14, true);
  present[12] = present[13] = false;
  std::vector<int> gone{12, 13};
  std::shared_ptr<const DecodePlan> p1, p2;
  ASSERT_TRUE(codec->PlanFor(present, gone, &p1).ok());
  ASSERT_TRUE(codec->PlanFor(present, gone, &p2).ok());
  EXPECT_EQ(p1.get(), p2.get());
  // The first pattern was evicted long ago, and rebuilding it gives equal rows.
  std::vector<bool> present0(14, true);
  present0[0] = present0[1] = false;
  std::vector<int> gone0{0, 1};
  ASSERT_TRUE(codec->PlanFor(present0, gone0, &again).ok());
  EXPECT_NE(first.get(), again.get());
  EXPECT_EQ(first->rows, again->rows);
}

// One backend shared by several threads, as the service's workers share one.
TEST(Codec, BackendIsSafeToShareAcrossThreads) {
  std::unique_ptr<Backend> backend;
  ASSERT_TRUE(CreateBackend({"isal", {10, 4}, 2}, &backend).ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        testing::StripeSet set(10, 4, 3000, 3, t * 100 + round);
        auto data = set.DataPtrs();
        auto parity = set.ParityPtrs();
        if (!backend->Encode({3, 3000, data, parity}).ok()) ++failures;
        std::vector<const std::uint8_t*> shards(42);
        for (int s = 0; s < 3; ++s)
          for (int i = 0; i < 14; ++i)
            shards[s * 14 + i] = (i + s + round) % 14 < 4 ? nullptr : set.at(s, i).data();
        std::vector<int> wanted{(0 + round) % 14 < 4 ? 0 : 13};
        std::vector<std::vector<std::uint8_t>> out(3, std::vector<std::uint8_t>(3000));
        std::vector<std::uint8_t*> outs{out[0].data(), out[1].data(), out[2].data()};
        if (!backend->Reconstruct({3, 3000, shards, wanted, outs}).ok()) ++failures;
        for (int s = 0; s < 3; ++s)
          if (out[s] != set.at(s, wanted[0])) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace fls
