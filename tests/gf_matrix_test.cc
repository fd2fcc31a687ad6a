// GF(2^8) field axioms, the inverse table, matrix inversion and the generator
// matrices: every k x k submatrix of the Cauchy generator is invertible (MDS).
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "fls/codec.h"
#include "fls/gf256.h"
#include "fls/matrix.h"
#include "test_util.h"

namespace fls {
namespace {

TEST(Gf256, TablesMatchBitwiseMultiplication) {
  for (unsigned a = 0; a < 256; ++a)
    for (unsigned b = 0; b < 256; ++b)
      ASSERT_EQ(gf::Mul(a, b), gf::MulBitwise(a, b)) << a << " * " << b;
}

TEST(Gf256, FieldAxioms) {
  for (unsigned a = 0; a < 256; ++a) {
    EXPECT_EQ(gf::Mul(a, 1), a);
    EXPECT_EQ(gf::Mul(a, 0), 0);
    for (unsigned b = 0; b < 256; ++b) {
      ASSERT_EQ(gf::Mul(a, b), gf::Mul(b, a));
      // Distributivity and associativity over a sample of c.
      for (unsigned c = 0; c < 256; c += 37) {
        ASSERT_EQ(gf::Mul(a, b ^ c), gf::Mul(a, b) ^ gf::Mul(a, c));
        ASSERT_EQ(gf::Mul(gf::Mul(a, b), c), gf::Mul(a, gf::Mul(b, c)));
      }
    }
  }
}

TEST(Gf256, InverseTable) {
  EXPECT_EQ(gf::Inv(0), 0);  // ISA-L's convention
  for (unsigned a = 1; a < 256; ++a) {
    EXPECT_EQ(gf::Mul(a, gf::Inv(a)), 1) << a;
    EXPECT_EQ(gf::Div(a, a), 1);
  }
}

TEST(Gf256, GeneratorIsPrimitive) {
  std::vector<bool> seen(256, false);
  for (unsigned n = 0; n < 255; ++n) {
    const std::uint8_t x = gf::Exp(n);
    EXPECT_FALSE(seen[x]) << "2^" << n << " repeats";
    seen[x] = true;
    EXPECT_EQ(gf::Log(x), n);
  }
  EXPECT_FALSE(seen[0]);
  EXPECT_EQ(gf::Pow(0, 0), 1);
  EXPECT_EQ(gf::Pow(0, 3), 0);
  EXPECT_EQ(gf::Pow(3, 2), gf::Mul(3, 3));
}

GfMatrix RandomMatrix(std::size_t n, unsigned seed) {
  GfMatrix m(n, n);
  unsigned x = seed;
  for (std::size_t r = 0; r < n; ++r)
    for (std::size_t c = 0; c < n; ++c) {
      x = x * 1103515245u + 12345u;
      m.at(r, c) = static_cast<std::uint8_t>(x >> 16);
    }
  return m;
}

TEST(GfMatrix, InverseTimesMatrixIsIdentity) {
  int inverted = 0;
  for (unsigned seed = 1; seed < 60; ++seed) {
    const std::size_t n = 1 + seed % 17;
    GfMatrix m = RandomMatrix(n, seed), inv, product;
    if (!m.Invert(&inv).ok()) continue;  // random matrices are sometimes singular
    ++inverted;
    ASSERT_TRUE(m.Multiply(inv, &product).ok());
    EXPECT_EQ(product, GfMatrix::Identity(n));
    ASSERT_TRUE(inv.Multiply(m, &product).ok());
    EXPECT_EQ(product, GfMatrix::Identity(n));
  }
  EXPECT_GT(inverted, 40);
}

TEST(GfMatrix, SingularMatricesAreRefused) {
  GfMatrix m(3, 3);
  m.at(0, 0) = 1;
  m.at(0, 1) = 2;
  m.at(0, 2) = 3;
  m.at(1, 0) = 4;
  m.at(1, 1) = 5;
  m.at(1, 2) = 6;
  for (int c = 0; c < 3; ++c) m.at(2, c) = m.at(0, c) ^ m.at(1, c);  // row 2 = row 0 + row 1
  GfMatrix inv;
  Status s = m.Invert(&inv);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("singular"), std::string::npos) << s.ToString();
  EXPECT_FALSE(GfMatrix(2, 2).Invert(&inv).ok());
  EXPECT_FALSE(GfMatrix(2, 3).Invert(&inv).ok());
  GfMatrix product;
  EXPECT_FALSE(GfMatrix(2, 3).Multiply(GfMatrix(2, 3), &product).ok());
}

using ::fls::testing::ForEachSubset;

class CauchyMds : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(CauchyMds, EveryKByKSubmatrixIsInvertible) {
  const auto [k, m] = GetParam();
  GfMatrix g;
  ASSERT_TRUE(MakeGenerator(MatrixKind::kCauchy, k, m, &g).ok());
  long subsets = 0;
  ForEachSubset(k + m, k, [&](const std::vector<int>& rows) {
    GfMatrix inv;
    ++subsets;
    ASSERT_TRUE(g.SelectRows(rows).Invert(&inv).ok()) << "rows starting " << rows[0];
  });
  EXPECT_GT(subsets, 0);
}

INSTANTIATE_TEST_SUITE_P(Shapes, CauchyMds,
                         ::testing::Values(std::pair{10, 4}, std::pair{6, 3}, std::pair{8, 4},
                                           std::pair{12, 4}, std::pair{20, 4}),
                         [](const auto& info) {
                           return "k" + std::to_string(info.param.first) + "_m" +
                                  std::to_string(info.param.second);
                         });

TEST(Generator, CauchyMatchesIsalDefinition) {
  // ISA-L gf_gen_cauchy1_matrix: identity on top, then a[i][j] = 1 / (i ^ j).
  GfMatrix g;
  ASSERT_TRUE(MakeGenerator(MatrixKind::kCauchy, 10, 4, &g).ok());
  for (int i = 0; i < 14; ++i)
    for (int j = 0; j < 10; ++j) {
      const std::uint8_t want = i < 10 ? (i == j) : gf::Inv(static_cast<std::uint8_t>(i ^ j));
      EXPECT_EQ(g.at(i, j), want) << i << "," << j;
    }
}

TEST(Generator, VandermondeIsSystematicAndMds) {
  GfMatrix g;
  ASSERT_TRUE(MakeGenerator(MatrixKind::kVandermonde, 10, 4, &g).ok());
  for (int i = 0; i < 10; ++i)
    for (int j = 0; j < 10; ++j) EXPECT_EQ(g.at(i, j), i == j ? 1 : 0);
  ForEachSubset(14, 10, [&](const std::vector<int>& rows) {
    GfMatrix inv;
    ASSERT_TRUE(g.SelectRows(rows).Invert(&inv).ok());
  });
}

TEST(Generator, BadShapesAreClearErrors) {
  GfMatrix g;
  Status s = MakeGenerator(MatrixKind::kCauchy, 0, 4, &g);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("k must be at least 1"), std::string::npos);
  s = MakeGenerator(MatrixKind::kCauchy, 250, 7, &g);
  EXPECT_NE(s.message().find("at most 256"), std::string::npos) << s.ToString();
  EXPECT_FALSE(MakeGenerator(MatrixKind::kCauchy, 4, 0, &g).ok());
  EXPECT_TRUE(MakeGenerator(MatrixKind::kCauchy, 200, 56, &g).ok());
  MatrixKind kind;
  EXPECT_FALSE(ParseMatrixKind("rs", &kind).ok());
  EXPECT_TRUE(ParseMatrixKind("vandermonde", &kind).ok());
}

}  // namespace
}  // namespace fls

#include "fls/crc32c.h"

namespace fls {
namespace {

TEST(Crc32c, StandardCheckValueAndChaining) {
  const char* text = "123456789";
  EXPECT_EQ(Crc32c(text, 9), 0xE3069283u);
  EXPECT_EQ(Crc32c(text + 4, 5, Crc32c(text, 4)), 0xE3069283u);
  EXPECT_EQ(Crc32c(text, 0), 0u);
}

}  // namespace
}  // namespace fls
