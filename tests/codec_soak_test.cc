// A longer randomized sweep (label `slow`): every usable CPU backend against
// ISA-L on random shapes, lengths and erasure patterns, many rounds.
#include <gtest/gtest.h>

#include <random>

#include "fls/backend_registry.h"
#include "test_util.h"

namespace fls {
namespace {

TEST(CodecSoak, RandomShapesLengthsAndPatternsAgreeWithIsal) {
  std::mt19937_64 rng(424242);
  int compared = 0;
  for (int round = 0; round < 150; ++round) {
    const int k = 1 + static_cast<int>(rng() % 32), m = 1 + static_cast<int>(rng() % 8);
    const std::size_t len = 1 + rng() % 20000, stripes = 1 + rng() % 4;
    std::unique_ptr<Backend> oracle;
    ASSERT_TRUE(CreateBackend({"isal", {k, m}, 1}, &oracle).ok());
    testing::StripeSet want(k, m, len, stripes, round);
    auto wd = want.DataPtrs();
    auto wp = want.ParityPtrs();
    ASSERT_TRUE(oracle->Encode({stripes, len, wd, wp}).ok());
    for (const BackendInfo& info : DescribeBackends()) {
      if (!info.usable || info.name == "isal" || info.name == "cuda") continue;
      if (info.name == "reference" && len * k * m > 400000)
        continue;  // keep the oracle's oracle quick
      std::unique_ptr<Backend> backend;
      ASSERT_TRUE(CreateBackend({info.name, {k, m}, 2}, &backend).ok());
      testing::StripeSet got(k, m, len, stripes, round);
      auto gd = got.DataPtrs();
      auto gp = got.ParityPtrs();
      ASSERT_TRUE(backend->Encode({stripes, len, gd, gp}).ok());
      ASSERT_EQ(got.blocks, want.blocks) << info.name << " k=" << k << " m=" << m << " len=" << len;
      // Lose a random set of up to m shards per stripe, rebuild all of them.
      const int n = k + m;
      std::vector<const std::uint8_t*> shards(stripes * n);
      std::vector<int> wanted(n);
      for (int i = 0; i < n; ++i) wanted[i] = i;
      for (std::size_t s = 0; s < stripes; ++s) {
        for (int i = 0; i < n; ++i) shards[s * n + i] = got.at(s, i).data();
        const int lose = static_cast<int>(rng() % (m + 1));
        for (int l = 0; l < lose; ++l) shards[s * n + rng() % n] = nullptr;
      }
      std::vector<std::vector<std::uint8_t>> out(stripes * n, std::vector<std::uint8_t>(len));
      std::vector<std::uint8_t*> outs;
      for (auto& o : out) outs.push_back(o.data());
      ASSERT_TRUE(backend->Reconstruct({stripes, len, shards, wanted, outs}).ok());
      for (std::size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], want.blocks[i]) << info.name;
      ++compared;
    }
  }
  EXPECT_GT(compared, 50);  // the reference alone covers ~70 of 150 rounds
}

}  // namespace
}  // namespace fls
