// The gfni backend in both of its instruction sets (AVX-512 and AVX2 + GFNI),
// forced one at a time: byte-identical to the `reference` backend and to
// ISA-L's ec_encode_data at odd lengths and widths up to k + m = 256, every
// erasure pattern of 10+4, the fused block CRCs equal to Crc32c, the Ceph
// corpus, and the registry's dispatch. An ISA this CPU lacks is skipped with
// the reason.
#include <gtest/gtest.h>
#include <isa-l/erasure_code.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fallback/gfni_backend.h"
#include "fls/backend_registry.h"
#include "fls/crc32c.h"
#include "fls/gf256.h"
#include "test_util.h"
#include "test_paths.h"

namespace fls {
namespace {

using ::fls::testing::ForEachSubset;
using ::fls::testing::StripeSet;
using Isa = GfniBackend::Isa;

class GfniBackendTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    std::string why;
    if (!GfniBackend::Supported(GetParam(), &why))
      GTEST_SKIP() << GfniBackend::IsaName(GetParam()) << ": " << why;
  }
  std::unique_ptr<Backend> Make(int k, int m, int threads = 2) {
    std::unique_ptr<Codec> codec;
    Status s = Codec::Create({k, m, MatrixKind::kCauchy}, &codec);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::unique_ptr<GfniBackend> backend;
    s = GfniBackend::Create(std::move(codec), threads, GetParam(), &backend);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (backend) EXPECT_EQ(backend->isa(), GetParam());
    return backend;
  }
};

// ISA-L's ec_encode_data with its own Cauchy matrix: parity [s*m + p].
std::vector<std::vector<std::uint8_t>> IsalParity(StripeSet& set) {
  const int k = set.k, m = set.m;
  std::vector<unsigned char> matrix((k + m) * k), tables(32 * k * m);
  gf_gen_cauchy1_matrix(matrix.data(), k + m, k);
  ec_init_tables(k, m, &matrix[k * k], tables.data());
  std::vector<std::vector<std::uint8_t>> parity(set.stripes * m,
                                                std::vector<std::uint8_t>(set.block));
  for (std::size_t s = 0; s < set.stripes; ++s) {
    std::vector<unsigned char*> in(k), out(m);
    for (int j = 0; j < k; ++j) in[j] = set.at(s, j).data();
    for (int p = 0; p < m; ++p) out[p] = parity[s * m + p].data();
    ec_encode_data(static_cast<int>(set.block), k, m, tables.data(), in.data(), out.data());
  }
  return parity;
}

// The `reference` backend's parity of the same data: [s*m + p].
std::vector<std::vector<std::uint8_t>> ReferenceParity(StripeSet& set) {
  std::unique_ptr<Backend> reference;
  EXPECT_TRUE(
      CreateBackend({"reference", {set.k, set.m, MatrixKind::kCauchy}, 1}, &reference).ok());
  std::vector<std::vector<std::uint8_t>> parity(set.stripes * set.m,
                                                std::vector<std::uint8_t>(set.block));
  std::vector<std::uint8_t*> out;
  for (auto& p : parity) out.push_back(p.data());
  auto data = set.DataPtrs();
  EXPECT_TRUE(reference->Encode({set.stripes, set.block, data, out}).ok());
  return parity;
}

void ExpectParityMatches(Backend& backend, std::size_t block, std::size_t stripes,
                         std::uint64_t seed) {
  const int k = backend.codec().k(), m = backend.codec().m();
  StripeSet set(k, m, block, stripes, seed);
  auto data = set.DataPtrs();
  auto parity = set.ParityPtrs();
  ASSERT_TRUE(backend.Encode({stripes, block, data, parity}).ok());
  const auto isal = IsalParity(set);
  const auto reference = ReferenceParity(set);
  for (std::size_t s = 0; s < stripes; ++s)
    for (int p = 0; p < m; ++p) {
      ASSERT_EQ(set.at(s, k + p), isal[s * m + p])
          << "vs ISA-L: k=" << k << " m=" << m << " block=" << block << " stripe " << s
          << " parity " << p;
      ASSERT_EQ(set.at(s, k + p), reference[s * m + p])
          << "vs reference: k=" << k << " m=" << m << " block=" << block << " stripe " << s
          << " parity " << p;
    }
}

TEST_P(GfniBackendTest, AffineOperandMultipliesEveryByteByEveryCoefficient) {
  // One coefficient, one input: the 256 byte values plus a 44-byte tail.
  std::vector<std::uint8_t> in(300), out(300);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::uint8_t>(i * 7);
  const std::uint8_t* inputs[] = {in.data()};
  std::uint8_t* outputs[] = {out.data()};
  for (unsigned c = 0; c < 256; ++c) {
    const std::uint64_t operand = gfni::AffineOperand(static_cast<std::uint8_t>(c));
    const gfni::ApplyArgs args{&operand, 1, 1, inputs, outputs, 0, in.size()};
    if (GetParam() == Isa::kAvx512)
      gfni::ApplyAvx512(args);
    else
      gfni::ApplyAvx2(args);
    for (std::size_t i = 0; i < in.size(); ++i)
      ASSERT_EQ(out[i], gf::Mul(static_cast<std::uint8_t>(c), in[i])) << c << " x " << int(in[i]);
  }
}

TEST_P(GfniBackendTest, MatchesReferenceAndIsalAtOddLengths) {
  auto backend = Make(10, 4);
  for (std::size_t len : {1u, 15u, 17u, 31u, 32u, 33u, 63u, 64u, 65u, 127u, 129u, 4095u})
    ExpectParityMatches(*backend, len, 3, len);
  ExpectParityMatches(*backend, (1u << 20) + 3, 2, 5);
}

// The data counts with their own unrolled kernels, and their neighbours.
TEST_P(GfniBackendTest, MatchesReferenceAndIsalForUnrolledShapes) {
  for (int k : {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13})
    for (int m : {1, 2, 3, 4, 6, 7}) {
      auto backend = Make(k, m);
      ExpectParityMatches(*backend, 129, 2, k * 16 + m);
      ExpectParityMatches(*backend, 4095, 1, k * 16 + m);
    }
}

TEST_P(GfniBackendTest, MatchesReferenceAndIsalForRandomShapes) {
  std::mt19937 rng(7);
  const std::size_t lengths[] = {1, 15, 17, 100, 4095, 6000};
  for (int round = 0; round < 24; ++round) {
    const int k = 1 + static_cast<int>(rng() % 32), m = 1 + static_cast<int>(rng() % 16);
    auto backend = Make(k, m, 1 + round % 2);
    ExpectParityMatches(*backend, lengths[round % 6], 1 + rng() % 3, round);
  }
}

TEST_P(GfniBackendTest, MatchesReferenceAndIsalAtKPlusM256) {
  for (auto [k, m] : {std::pair{250, 6}, std::pair{128, 128}, std::pair{1, 255}}) {
    auto backend = Make(k, m);
    ExpectParityMatches(*backend, 17, 1, k);
    ExpectParityMatches(*backend, 4095, 1, k + 1);
  }
}

// All 1,470 patterns of 1 to 4 lost shards of 10+4, through Backend::Reconstruct,
// on two stripes of a length with a partial last vector.
TEST_P(GfniBackendTest, EveryErasurePatternOf10Plus4) {
  auto backend = Make(10, 4);
  const std::size_t len = 1000 + 33, stripes = 2;
  StripeSet set(10, 4, len, stripes, 77);
  auto data = set.DataPtrs();
  auto parity = set.ParityPtrs();
  ASSERT_TRUE(backend->Encode({stripes, len, data, parity}).ok());
  int patterns = 0;
  for (int lost = 1; lost <= 4; ++lost)
    ForEachSubset(14, lost, [&](const std::vector<int>& gone) {
      std::vector<const std::uint8_t*> shards(stripes * 14);
      for (std::size_t s = 0; s < stripes; ++s) {
        for (int i = 0; i < 14; ++i) shards[s * 14 + i] = set.at(s, i).data();
        for (int g : gone) shards[s * 14 + g] = nullptr;
      }
      std::vector<std::vector<std::uint8_t>> out(stripes * gone.size(),
                                                 std::vector<std::uint8_t>(len));
      std::vector<std::uint8_t*> outs;
      for (auto& o : out) outs.push_back(o.data());
      Status s = backend->Reconstruct({stripes, len, shards, gone, outs});
      ASSERT_TRUE(s.ok()) << s.ToString();
      for (std::size_t st = 0; st < stripes; ++st)
        for (std::size_t w = 0; w < gone.size(); ++w)
          ASSERT_EQ(out[st * gone.size() + w], set.at(st, gone[w]))
              << "stripe " << st << " lost shard " << gone[w] << " of pattern #" << patterns;
      ++patterns;
    });
  EXPECT_EQ(patterns, 1470);
}

// Encode with block CRCs: every CRC equals Crc32c of its block and the parity
// equals ISA-L's, for lengths around the 64-byte chunk, across several L2
// tiles, and for more outputs than one pass accumulates.
TEST_P(GfniBackendTest, FusedBlockCrcsEqualCrc32cOfEveryBlock) {
  for (auto [k, m] : {std::pair{10, 4}, std::pair{1, 1}, std::pair{12, 13}}) {
    auto backend = Make(k, m);
    const std::size_t tile = static_cast<GfniBackend&>(*backend).TileBytes(k, m);
    for (std::size_t len :
         {std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{65}, std::size_t{128},
          std::size_t{4097}, 3 * tile, 3 * tile + 64 * 5 + 17, (std::size_t{1} << 20) + 3}) {
      const std::size_t stripes = len > 100000 ? 2 : 3;
      StripeSet set(k, m, len, stripes, len + k);
      auto data = set.DataPtrs();
      auto parity = set.ParityPtrs();
      std::vector<std::uint32_t> crcs(stripes * (k + m), 0xdeadbeef);
      ASSERT_TRUE(backend->Encode({stripes, len, data, parity, crcs}).ok());
      const auto isal = IsalParity(set);
      for (std::size_t s = 0; s < stripes; ++s) {
        for (int p = 0; p < m; ++p)
          ASSERT_EQ(set.at(s, k + p), isal[s * m + p])
              << "k=" << k << " m=" << m << " len=" << len << " stripe " << s << " parity " << p;
        for (int i = 0; i < k + m; ++i)
          ASSERT_EQ(crcs[s * (k + m) + i], Crc32c(set.at(s, i).data(), len))
              << "k=" << k << " m=" << m << " len=" << len << " stripe " << s << " block " << i;
      }
    }
  }
}

std::vector<std::uint8_t> Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Ceph's isa plugin (Cauchy) encoded these objects: every chunk and its CRC
// must match, and the object must come back from subsets of the chunks.
TEST_P(GfniBackendTest, ReproducesCephCorpus) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(FLS_TEST_DATA_DIR) / "ceph-ec-corpus";
  ASSERT_TRUE(fs::is_directory(root)) << root << " is missing";
  int sets = 0;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    int k = 0, m = 0, w = 0;
    ASSERT_EQ(std::sscanf(entry.path().filename().c_str(), "k%d_m%d_sw%d", &k, &m, &w), 3)
        << entry.path();
    auto backend = Make(k, m);
    const auto content = Slurp(entry.path() / "content");
    ASSERT_EQ(content.size(), static_cast<std::size_t>(w)) << entry.path();
    std::vector<std::vector<std::uint8_t>> chunks;
    for (int i = 0; i < k + m; ++i) chunks.push_back(Slurp(entry.path() / std::to_string(i)));
    const std::size_t c = chunks[0].size();
    for (const auto& chunk : chunks) ASSERT_EQ(chunk.size(), c) << entry.path();
    std::vector<std::uint8_t> padded(content);
    padded.resize(static_cast<std::size_t>(k) * c, 0);
    std::vector<const std::uint8_t*> data;
    for (int j = 0; j < k; ++j) data.push_back(&padded[j * c]);
    for (int j = 0; j < k; ++j)
      ASSERT_EQ(0, std::memcmp(data[j], chunks[j].data(), c)) << entry.path() << " chunk " << j;
    std::vector<std::vector<std::uint8_t>> parity(m, std::vector<std::uint8_t>(c));
    std::vector<std::uint8_t*> pp;
    for (auto& p : parity) pp.push_back(p.data());
    std::vector<std::uint32_t> crcs(k + m);
    ASSERT_TRUE(backend->Encode({1, c, data, pp, crcs}).ok());
    for (int p = 0; p < m; ++p)
      ASSERT_EQ(parity[p], chunks[k + p]) << entry.path() << " parity " << p;
    for (int i = 0; i < k + m; ++i)
      ASSERT_EQ(crcs[i], Crc32c(chunks[i].data(), c)) << entry.path() << " chunk " << i;

    // Lose m chunks (up to 100 choices per set) and rebuild them.
    int tried = 0;
    ForEachSubset(k + m, m, [&](const std::vector<int>& gone) {
      if (++tried > 100) return;
      std::vector<const std::uint8_t*> shards;
      for (auto& ch : chunks) shards.push_back(ch.data());
      for (int g : gone) shards[g] = nullptr;
      std::vector<std::vector<std::uint8_t>> out(m, std::vector<std::uint8_t>(c));
      std::vector<std::uint8_t*> outs;
      for (auto& o : out) outs.push_back(o.data());
      ASSERT_TRUE(backend->Reconstruct({1, c, shards, gone, outs}).ok());
      for (int i = 0; i < m; ++i)
        ASSERT_EQ(out[i], chunks[gone[i]]) << entry.path() << " chunk " << gone[i];
    });
    ++sets;
  }
  EXPECT_GE(sets, 20);
}

INSTANTIATE_TEST_SUITE_P(Isas, GfniBackendTest, ::testing::Values(Isa::kAvx512, Isa::kAvx2),
                         [](const auto& info) {
                           return std::string(GfniBackend::IsaName(info.param));
                         });

// Dispatch: where the CPU has GFNI, gfni is usable and comes before isal, and
// FLS_GFNI_ISA picks the kernels; where it lacks it, the reason is reported.
TEST(GfniDispatch, RegistryOrderAndForcedIsa) {
  const auto infos = DescribeBackends();
  int gfni = -1, isal = -1;
  for (int i = 0; i < static_cast<int>(infos.size()); ++i) {
    if (infos[i].name == "gfni") gfni = i;
    if (infos[i].name == "isal") isal = i;
  }
  ASSERT_GE(gfni, 0);
  ASSERT_GE(isal, 0);
  EXPECT_LT(gfni, isal) << "auto must prefer gfni to isal";

  GfniBackend::Isa best;
  std::string detail;
  const bool usable = GfniBackend::Probe(&best, &detail);
  EXPECT_EQ(infos[gfni].usable, usable) << infos[gfni].detail;
  if (!usable) {
    EXPECT_NE(infos[gfni].detail.find("lacks"), std::string::npos) << infos[gfni].detail;
    std::unique_ptr<Backend> backend;
    EXPECT_EQ(CreateBackend({"gfni", {10, 4, MatrixKind::kCauchy}, 1}, &backend).code(),
              Status::Code::kUnavailable);
    GTEST_SKIP() << "gfni unusable here: " << detail;
  }
  const std::string chosen = ResolveAutoBackend();
  EXPECT_TRUE(chosen == "gfni" || chosen == "cuda") << chosen;

  for (Isa isa : {Isa::kAvx512, Isa::kAvx2}) {
    std::string why;
    if (!GfniBackend::Supported(isa, &why)) continue;
    ASSERT_EQ(setenv("FLS_GFNI_ISA", std::string(GfniBackend::IsaName(isa)).c_str(), 1), 0);
    std::unique_ptr<Backend> backend;
    Status s = CreateBackend({"gfni", {10, 4, MatrixKind::kCauchy}, 1}, &backend);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(static_cast<GfniBackend&>(*backend).isa(), isa);
  }
  ASSERT_EQ(setenv("FLS_GFNI_ISA", "sse2", 1), 0);
  std::unique_ptr<Backend> backend;
  Status s = CreateBackend({"gfni", {10, 4, MatrixKind::kCauchy}, 1}, &backend);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.ToString().find("FLS_GFNI_ISA"), std::string::npos) << s.ToString();
  unsetenv("FLS_GFNI_ISA");
  ASSERT_TRUE(CreateBackend({"gfni", {10, 4, MatrixKind::kCauchy}, 1}, &backend).ok());
  EXPECT_EQ(static_cast<GfniBackend&>(*backend).isa(), best);
}

}  // namespace
}  // namespace fls
