// Every backend the registry knows, held to the same contract: parity
// byte-identical to ISA-L's ec_encode_data, every erasure pattern of 10+4
// rebuilt exactly, the Ceph corpus reproduced, and clear errors for bad
// batches. Backends this host cannot run are skipped with the registry's reason.
// The same source builds two binaries: the `unit` one for every backend but
// cuda, and the `gpu` one for cuda alone (FLS_CONFORMANCE_ONLY).
#include <gtest/gtest.h>
#include <isa-l/erasure_code.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fls/backend_registry.h"
#include "fls/crc32c.h"
#include "fls/gf256.h"
#include "test_util.h"
#include "test_paths.h"

namespace fls {
namespace {

using ::fls::testing::ForEachSubset;
using ::fls::testing::RandomBytes;
using ::fls::testing::StripeSet;

std::vector<std::string> BackendsUnderTest() {
  std::vector<std::string> names;
  for (const BackendInfo& info : DescribeBackends()) {
#ifdef FLS_CONFORMANCE_ONLY
    if (info.name != FLS_CONFORMANCE_ONLY) continue;
#else
    if (info.name == "cuda") continue;  // covered by the gpu-labelled binary
#endif
    names.push_back(info.name);
  }
  return names;
}

class BackendConformance : public ::testing::TestWithParam<std::string> {
 protected:
  // Skips (visibly, with the reason) when the backend cannot run here.
  std::unique_ptr<Backend> Make(int k, int m, MatrixKind kind = MatrixKind::kCauchy,
                                int threads = 2) {
    for (const BackendInfo& info : DescribeBackends())
      if (info.name == GetParam() && !info.usable) {
        skipped_ = true;
        return nullptr;
      }
    std::unique_ptr<Backend> backend;
    Status s = CreateBackend({GetParam(), {k, m, kind}, threads}, &backend);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return backend;
  }
  std::string SkipReason() const {
    for (const BackendInfo& info : DescribeBackends())
      if (info.name == GetParam()) return info.detail;
    return "unknown backend";
  }
  bool skipped_ = false;
};

#define FLS_MAKE_OR_SKIP(var, ...)                                           \
  auto var = Make(__VA_ARGS__);                                              \
  if (skipped_) GTEST_SKIP() << GetParam() << " unusable: " << SkipReason(); \
  ASSERT_NE(var, nullptr)

// ISA-L's own encode of the same stripes: the independent reference.
void IsalEncode(MatrixKind kind, const GfMatrix& generator, StripeSet& set,
                std::vector<std::vector<std::uint8_t>>* parity) {
  const int k = set.k, m = set.m;
  std::vector<unsigned char> matrix(generator.cells().begin(), generator.cells().end());
  if (kind == MatrixKind::kCauchy) {
    // ISA-L's own Cauchy matrix, so a wrong fls generator cannot hide here.
    gf_gen_cauchy1_matrix(matrix.data(), k + m, k);
    ASSERT_EQ(std::vector<std::uint8_t>(matrix.begin(), matrix.end()), generator.cells());
  }
  std::vector<unsigned char> tables(32 * k * m);
  ec_init_tables(k, m, &matrix[k * k], tables.data());
  parity->assign(set.stripes * m, std::vector<std::uint8_t>(set.block));
  for (std::size_t s = 0; s < set.stripes; ++s) {
    std::vector<unsigned char*> in(k), out(m);
    for (int j = 0; j < k; ++j) in[j] = set.at(s, j).data();
    for (int p = 0; p < m; ++p) out[p] = (*parity)[s * m + p].data();
    ec_encode_data(static_cast<int>(set.block), k, m, tables.data(), in.data(), out.data());
  }
}

void ExpectEncodeMatchesIsal(Backend& backend, std::size_t block, std::size_t stripes,
                             std::uint64_t seed) {
  const int k = backend.codec().k(), m = backend.codec().m();
  StripeSet set(k, m, block, stripes, seed);
  auto data = set.DataPtrs();
  auto parity = set.ParityPtrs();
  ASSERT_TRUE(backend.Encode({stripes, block, data, parity}).ok());
  std::vector<std::vector<std::uint8_t>> expected;
  IsalEncode(backend.codec().params().matrix, backend.codec().generator(), set, &expected);
  for (std::size_t s = 0; s < stripes; ++s)
    for (int p = 0; p < m; ++p)
      ASSERT_EQ(set.at(s, k + p), expected[s * m + p])
          << backend.name() << " k=" << k << " m=" << m << " block=" << block << " stripe " << s
          << " parity " << p;
}

TEST_P(BackendConformance, EncodeMatchesIsalAtAwkwardLengths) {
  FLS_MAKE_OR_SKIP(backend, 10, 4);
  for (std::size_t len : {1u, 15u, 16u, 17u, 63u, 64u, 65u, 4095u, 4096u})
    ExpectEncodeMatchesIsal(*backend, len, 3, len);
  ExpectEncodeMatchesIsal(*backend, (1u << 20) + 3, 1, 99);
}

TEST_P(BackendConformance, EncodeMatchesIsalForRandomShapes) {
  std::mt19937 rng(2026);
  for (int round = 0; round < 12; ++round) {
    const int k = 1 + static_cast<int>(rng() % 24), m = 1 + static_cast<int>(rng() % 8);
    const std::size_t len = 1 + rng() % 5000;
    FLS_MAKE_OR_SKIP(backend, k, m);
    ExpectEncodeMatchesIsal(*backend, len, 1 + rng() % 3, round);
  }
}

TEST_P(BackendConformance, EncodeMatchesIsalAtMaximumWidth) {
  for (auto [k, m] : {std::pair{252, 4}, std::pair{200, 56}, std::pair{128, 128}}) {
    FLS_MAKE_OR_SKIP(backend, k, m);
    ExpectEncodeMatchesIsal(*backend, 4095, 1, k);
  }
}

// Lagrange interpolation through the points 0..k-1, evaluated at k+p: the
// systematic Vandermonde parity, built without any matrix inversion.
std::uint8_t LagrangeCoefficient(int k, int p, int i) {
  const std::uint8_t x = static_cast<std::uint8_t>(k + p);
  std::uint8_t num = 1, den = 1;
  for (int l = 0; l < k; ++l) {
    if (l == i) continue;
    num = gf::Mul(num, x ^ static_cast<std::uint8_t>(l));
    den = gf::Mul(den, static_cast<std::uint8_t>(i ^ l));
  }
  return gf::Div(num, den);
}

TEST_P(BackendConformance, VandermondeMatchesIndependentConstruction) {
  for (auto [k, m] : {std::pair{10, 4}, std::pair{6, 3}, std::pair{17, 3}}) {
    FLS_MAKE_OR_SKIP(backend, k, m, MatrixKind::kVandermonde);
    const std::size_t len = 777;
    StripeSet set(k, m, len, 2, 5);
    auto data = set.DataPtrs();
    auto parity = set.ParityPtrs();
    ASSERT_TRUE(backend->Encode({2, len, data, parity}).ok());
    for (std::size_t s = 0; s < 2; ++s)
      for (int p = 0; p < m; ++p)
        for (std::size_t b = 0; b < len; ++b) {
          std::uint8_t want = 0;
          for (int i = 0; i < k; ++i)
            want ^= gf::Mul(LagrangeCoefficient(k, p, i), set.at(s, i)[b]);
          ASSERT_EQ(set.at(s, k + p)[b], want) << "k=" << k << " parity " << p << " byte " << b;
        }
  }
}

// All 1,470 patterns of 1 to 4 lost shards out of 14, one Reconstruct each,
// wanting exactly the lost shards.
TEST_P(BackendConformance, EveryErasurePatternOf10Plus4) {
  FLS_MAKE_OR_SKIP(backend, 10, 4);
  const std::size_t len = 1001;  // odd: exercises every backend's tail
  StripeSet set(10, 4, len, 1, 77);
  auto data = set.DataPtrs();
  auto parity = set.ParityPtrs();
  ASSERT_TRUE(backend->Encode({1, len, data, parity}).ok());
  int patterns = 0;
  for (int lost = 1; lost <= 4; ++lost)
    ForEachSubset(14, lost, [&](const std::vector<int>& gone) {
      std::vector<const std::uint8_t*> shards(14);
      for (int i = 0; i < 14; ++i) shards[i] = set.at(0, i).data();
      for (int g : gone) shards[g] = nullptr;
      std::vector<std::vector<std::uint8_t>> out(gone.size(), std::vector<std::uint8_t>(len));
      std::vector<std::uint8_t*> outs;
      for (auto& o : out) outs.push_back(o.data());
      Status s = backend->Reconstruct({1, len, shards, gone, outs});
      ASSERT_TRUE(s.ok()) << s.ToString();
      for (std::size_t w = 0; w < gone.size(); ++w)
        ASSERT_EQ(out[w], set.at(0, gone[w]))
            << "lost shard " << gone[w] << " of pattern #" << patterns;
      ++patterns;
    });
  EXPECT_EQ(patterns, 1470);
}

// One batch where every stripe lost something different, rebuilding all 14
// shards (present ones are recomputed): the grouping by pattern must keep
// every stripe's own decode rows.
TEST_P(BackendConformance, MixedPatternsInOneBatch) {
  FLS_MAKE_OR_SKIP(backend, 10, 4);
  std::vector<std::vector<int>> patterns;
  for (int lost = 0; lost <= 4; ++lost)
    ForEachSubset(14, lost, [&](const std::vector<int>& g) {
      if (patterns.size() < 300 || lost == 4) patterns.push_back(g);
    });
  const std::size_t stripes = patterns.size(), len = 100;
  StripeSet set(10, 4, len, stripes, 3);
  auto data = set.DataPtrs();
  auto parity = set.ParityPtrs();
  ASSERT_TRUE(backend->Encode({stripes, len, data, parity}).ok());
  std::vector<const std::uint8_t*> shards(stripes * 14);
  std::vector<int> wanted(14);
  for (int i = 0; i < 14; ++i) wanted[i] = i;
  std::vector<std::vector<std::uint8_t>> out(stripes * 14, std::vector<std::uint8_t>(len));
  std::vector<std::uint8_t*> outs;
  for (auto& o : out) outs.push_back(o.data());
  for (std::size_t s = 0; s < stripes; ++s) {
    for (int i = 0; i < 14; ++i) shards[s * 14 + i] = set.at(s, i).data();
    for (int g : patterns[s]) shards[s * 14 + g] = nullptr;
  }
  ASSERT_TRUE(backend->Reconstruct({stripes, len, shards, wanted, outs}).ok());
  for (std::size_t s = 0; s < stripes; ++s)
    for (int i = 0; i < 14; ++i) ASSERT_EQ(out[s * 14 + i], set.at(s, i)) << s << "/" << i;
}

TEST_P(BackendConformance, BlockCrcsMatchCrc32cOfEveryBlock) {
  FLS_MAKE_OR_SKIP(backend, 6, 3);
  const std::size_t len = 4097, stripes = 3;
  StripeSet set(6, 3, len, stripes, 11);
  auto data = set.DataPtrs();
  auto parity = set.ParityPtrs();
  std::vector<std::uint32_t> crcs(stripes * 9);
  ASSERT_TRUE(backend->Encode({stripes, len, data, parity, crcs}).ok());
  for (std::size_t s = 0; s < stripes; ++s)
    for (int i = 0; i < 9; ++i)
      EXPECT_EQ(crcs[s * 9 + i], Crc32c(set.at(s, i).data(), len)) << s << "/" << i;
}

TEST_P(BackendConformance, AsyncFormsGiveTheSameBytes) {
  FLS_MAKE_OR_SKIP(backend, 10, 4);
  const std::size_t len = 5000;
  StripeSet a(10, 4, len, 4, 8), b(10, 4, len, 4, 8);
  auto da = a.DataPtrs(), db = b.DataPtrs();
  auto pa = a.ParityPtrs(), pb = b.ParityPtrs();
  ASSERT_TRUE(backend->Encode({4, len, da, pa}).ok());
  auto fut = backend->EncodeAsync({4, len, db, pb});
  ASSERT_TRUE(fut.get().ok());
  EXPECT_EQ(a.blocks, b.blocks);

  std::vector<const std::uint8_t*> shards(4 * 14);
  for (std::size_t s = 0; s < 4; ++s)
    for (int i = 0; i < 14; ++i) shards[s * 14 + i] = i < 2 ? nullptr : b.at(s, i).data();
  std::vector<int> wanted{0, 1};
  std::vector<std::vector<std::uint8_t>> out(8, std::vector<std::uint8_t>(len));
  std::vector<std::uint8_t*> outs;
  for (auto& o : out) outs.push_back(o.data());
  ASSERT_TRUE(backend->ReconstructAsync({4, len, shards, wanted, outs}).get().ok());
  for (std::size_t s = 0; s < 4; ++s) {
    EXPECT_EQ(out[s * 2], a.at(s, 0));
    EXPECT_EQ(out[s * 2 + 1], a.at(s, 1));
  }
}

TEST_P(BackendConformance, BadBatchesAreClearErrors) {
  FLS_MAKE_OR_SKIP(backend, 10, 4);
  StripeSet set(10, 4, 64, 2, 1);
  auto data = set.DataPtrs();
  auto parity = set.ParityPtrs();

  Status s = backend->Encode({2, 64, std::span(data).first(19), parity});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("19 data buffers"), std::string::npos) << s.ToString();
  s = backend->Encode({2, 64, data, std::span(parity).first(7)});
  EXPECT_NE(s.message().find("7 parity buffers"), std::string::npos) << s.ToString();
  s = backend->Encode({2, 0, data, parity});
  EXPECT_NE(s.message().find("block size is 0"), std::string::npos) << s.ToString();
  s = backend->Encode({0, 64, {}, {}});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  auto data_with_null = data;
  data_with_null[13] = nullptr;
  s = backend->Encode({2, 64, data_with_null, parity});
  EXPECT_NE(s.message().find("stripe 1: data block 3 is null"), std::string::npos) << s.ToString();
  std::vector<std::uint32_t> crcs(5);
  s = backend->Encode({2, 64, data, parity, crcs});
  EXPECT_NE(s.message().find("CRC slots"), std::string::npos) << s.ToString();

  // Five lost in stripe 1 (m = 4): unrecoverable, naming the stripe.
  std::vector<const std::uint8_t*> shards(28);
  for (int s2 = 0; s2 < 2; ++s2)
    for (int i = 0; i < 14; ++i) shards[s2 * 14 + i] = set.at(s2, i).data();
  for (int i = 0; i < 5; ++i) shards[14 + i] = nullptr;
  std::vector<int> wanted{0};
  std::vector<std::uint8_t> o1(64), o2(64);
  std::vector<std::uint8_t*> outs{o1.data(), o2.data()};
  s = backend->Reconstruct({2, 64, shards, wanted, outs});
  EXPECT_EQ(s.code(), Status::Code::kUnrecoverable) << s.ToString();
  EXPECT_NE(s.message().find("stripe 1"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("only 9 of 14"), std::string::npos) << s.ToString();

  shards[14] = set.at(1, 0).data();
  std::vector<int> bad_wanted{14};
  s = backend->Reconstruct({2, 64, shards, bad_wanted, outs});
  EXPECT_NE(s.message().find("out of range"), std::string::npos) << s.ToString();
  std::vector<int> twice{1, 1};
  std::vector<std::uint8_t*> four{o1.data(), o2.data(), o1.data(), o2.data()};
  s = backend->Reconstruct({2, 64, shards, twice, four});
  EXPECT_NE(s.message().find("wanted twice"), std::string::npos) << s.ToString();
  s = backend->Reconstruct({2, 64, shards, wanted, std::span(outs).first(1)});
  EXPECT_NE(s.message().find("1 output buffers"), std::string::npos) << s.ToString();
  s = backend->Reconstruct({2, 64, std::span(shards).first(20), wanted, outs});
  EXPECT_NE(s.message().find("20 shard slots"), std::string::npos) << s.ToString();
}

TEST_P(BackendConformance, BadProfilesAreClearErrors) {
  std::unique_ptr<Backend> backend;
  Status s = CreateBackend({GetParam(), {0, 4}, 1}, &backend);
  if (s.code() == Status::Code::kUnavailable) GTEST_SKIP() << s.ToString();
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("k must be at least 1"), std::string::npos) << s.ToString();
  s = CreateBackend({GetParam(), {250, 10}, 1}, &backend);
  EXPECT_NE(s.message().find("at most 256"), std::string::npos) << s.ToString();
  s = CreateBackend({GetParam(), {10, 0}, 1}, &backend);
  EXPECT_NE(s.message().find("m must be at least 1"), std::string::npos) << s.ToString();
}

// Ceph's isa plugin (Cauchy) encoded these objects: every chunk must match,
// and the object must come back from every choice of m lost chunks.
TEST_P(BackendConformance, ReproducesCephCorpus) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(FLS_TEST_DATA_DIR) / "ceph-ec-corpus";
  ASSERT_TRUE(fs::is_directory(root)) << root;
  auto slurp = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
  };
  int sets = 0;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    int k = 0, m = 0, w = 0;
    ASSERT_EQ(std::sscanf(entry.path().filename().c_str(), "k%d_m%d_sw%d", &k, &m, &w), 3);
    FLS_MAKE_OR_SKIP(backend, k, m);
    const auto content = slurp(entry.path() / "content");
    ASSERT_EQ(content.size(), static_cast<std::size_t>(w));
    std::vector<std::vector<std::uint8_t>> chunks;
    for (int i = 0; i < k + m; ++i) chunks.push_back(slurp(entry.path() / std::to_string(i)));
    const std::size_t c = chunks[0].size();
    std::vector<std::uint8_t> padded(content);
    padded.resize(static_cast<std::size_t>(k) * c, 0);
    std::vector<const std::uint8_t*> data;
    for (int j = 0; j < k; ++j) data.push_back(&padded[j * c]);
    std::vector<std::vector<std::uint8_t>> parity(m, std::vector<std::uint8_t>(c));
    std::vector<std::uint8_t*> pp;
    for (auto& p : parity) pp.push_back(p.data());
    ASSERT_TRUE(backend->Encode({1, c, data, pp}).ok());
    for (int j = 0; j < k; ++j)
      ASSERT_EQ(0, std::memcmp(data[j], chunks[j].data(), c)) << entry.path() << " chunk " << j;
    for (int p = 0; p < m; ++p)
      ASSERT_EQ(parity[p], chunks[k + p]) << entry.path() << " parity " << p;

    // Every choice of m lost chunks (capped for the widest sets).
    int tried = 0;
    ForEachSubset(k + m, m, [&](const std::vector<int>& gone) {
      if (++tried > 200) return;
      std::vector<const std::uint8_t*> shards;
      for (auto& ch : chunks) shards.push_back(ch.data());
      for (int g : gone) shards[g] = nullptr;
      std::vector<std::vector<std::uint8_t>> out(m, std::vector<std::uint8_t>(c));
      std::vector<std::uint8_t*> outs;
      for (auto& o : out) outs.push_back(o.data());
      ASSERT_TRUE(backend->Reconstruct({1, c, shards, gone, outs}).ok());
      for (int i = 0; i < m; ++i) ASSERT_EQ(out[i], chunks[gone[i]]) << entry.path();
    });
    ++sets;
  }
  EXPECT_GE(sets, 20);
}

INSTANTIATE_TEST_SUITE_P(Backends, BackendConformance, ::testing::ValuesIn(BackendsUnderTest()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(BackendConformance);

}  // namespace
}  // namespace fls
