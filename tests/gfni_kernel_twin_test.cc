// The GFNI kernels against their plain twins (fallback/gfni_kernels.h):
// ApplyAvx512 and ApplyAvx2 against ApplyPlain, ApplyFoldingCrcAvx512 against
// ApplyFoldingCrcPlain (output bytes, fold states and the CRCs they reduce
// to), over random shapes (the unrolled k = 4, 6, 8, 10, 12 and odd k up to
// 32; 1 to 32 outputs, so one to six passes), lengths 0 to 5000 (under one
// vector, masked tails, multiples and non-multiples of 32, 64 and 128), an
// offset into the blocks, and every input and output at its own misaligned
// address between guard bytes. Where this CPU lacks an instruction set the
// optimized side is skipped with the reason; the twins still run against the
// reference backend and Crc32c, so the suite can fail on any x86-64 machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fallback/gfni_backend.h"
#include "fallback/gfni_kernels.h"
#include "fls/backend_registry.h"
#include "fls/crc32c.h"

namespace fls {

// So that CTest's names for the parameterised cases say which ISA.
void PrintTo(GfniBackend::Isa isa, std::ostream* os) { *os << GfniBackend::IsaName(isa); }

namespace {

using Isa = GfniBackend::Isa;

constexpr std::size_t kGuard = 64;

struct Case {
  std::size_t k, r, offset, len;
  std::uint64_t seed;
  std::string Describe() const {
    std::ostringstream s;
    s << "k=" << k << " r=" << r << " offset=" << offset << " len=" << len << " seed=" << seed;
    return s.str();
  }
};

// Shapes and lengths every twin pair is run over: each listed length once
// (the vector edges of both kernels), then random ones up to 5000; k cycles
// through the unrolled counts and random odd ones; r from 1 to 32, a third of
// the cases in one pass (r <= 6).
std::vector<Case> Cases(std::size_t count, std::uint64_t seed) {
  static const std::size_t kLengths[] = {0,   1,   17,  31,   32,   33,   63,   64,
                                         65,  96,  127, 128,  129,  191,  192,  255,
                                         256, 257, 640, 1000, 4095, 4096, 4097, 5000};
  static const std::size_t kUnrolled[] = {4, 6, 8, 10, 12};
  std::mt19937_64 rng(seed);
  std::vector<Case> cases;
  for (std::size_t n = 0; n < count; ++n) {
    Case c;
    c.len = n < std::size(kLengths) ? kLengths[n] : rng() % 5001;
    c.k = n % 2 == 0 ? kUnrolled[(n / 2) % 5] : 2 * (rng() % 16) + 1;
    c.r = n % 3 == 0 ? 1 + rng() % 6 : 1 + rng() % 32;
    c.offset = rng() % 3 == 0 ? 0 : rng() % 200;
    c.seed = seed * 1000 + n;
    cases.push_back(c);
  }
  return cases;
}

// k inputs and r outputs of `size` bytes, each its own allocation, placed
// 0 to 63 bytes past a 64-byte boundary between kGuard guard bytes on either
// side; every byte (guards and outputs too) random. Two Blocks built from
// one seed hold the same bytes at the same misalignments.
class Blocks {
 public:
  Blocks(std::size_t k, std::size_t r, std::size_t size, std::uint64_t seed) : size_(size) {
    std::mt19937_64 rng(seed);
    for (std::size_t b = 0; b < k + r; ++b) {
      storage_.emplace_back(size + 2 * kGuard + 128);
      const auto base = reinterpret_cast<std::uintptr_t>(storage_.back().data()) + kGuard;
      std::uint8_t* p = reinterpret_cast<std::uint8_t*>((base + 63) / 64 * 64) + rng() % 64;
      // Filled relative to p, not to the allocation, whose own alignment
      // differs between two Blocks.
      for (std::uint8_t* q = p - kGuard; q < p + size + kGuard; ++q)
        *q = static_cast<std::uint8_t>(rng());
      (b < k ? inputs_ : outputs_).push_back(p);
    }
    for (std::uint8_t* p : inputs_) const_inputs_.push_back(p);
  }

  gfni::ApplyArgs Args(const std::vector<std::uint64_t>& operands, std::size_t offset,
                       std::size_t len) const {
    return {operands.data(),
            const_inputs_.size(),
            outputs_.size(),
            const_inputs_.data(),
            outputs_.data(),
            offset,
            len};
  }
  std::size_t blocks() const { return storage_.size(); }
  const std::uint8_t* block(std::size_t b) const {
    return b < inputs_.size() ? inputs_[b] : outputs_[b - inputs_.size()];
  }
  // Block b with its guards: what a kernel may and may not have written.
  std::vector<std::uint8_t> Window(std::size_t b) const {
    return {block(b) - kGuard, block(b) + size_ + kGuard};
  }

 private:
  std::size_t size_;
  std::vector<std::vector<std::uint8_t>> storage_;
  std::vector<std::uint8_t*> inputs_, outputs_;
  std::vector<const std::uint8_t*> const_inputs_;
};

// Every block and its guards equal in `a` and `b`; else the first difference.
::testing::AssertionResult SameBytes(const Blocks& a, const Blocks& b) {
  for (std::size_t i = 0; i < a.blocks(); ++i) {
    const std::vector<std::uint8_t> x = a.Window(i), y = b.Window(i);
    const auto d = std::mismatch(x.begin(), x.end(), y.begin());
    if (d.first != x.end())
      return ::testing::AssertionFailure()
             << "block " << i << " byte " << (d.first - x.begin()) - std::ptrdiff_t{kGuard}
             << " (negative or past the block: a guard byte): " << int(*d.first) << " vs "
             << int(*d.second);
  }
  return ::testing::AssertionSuccess();
}

GfMatrix RandomRows(std::size_t r, std::size_t k, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  GfMatrix m(r, k);
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t j = 0; j < k; ++j) m.at(i, j) = static_cast<std::uint8_t>(rng());
  return m;
}

std::vector<std::uint64_t> Operands(const GfMatrix& rows) {
  std::vector<std::uint64_t> ops;
  for (std::uint8_t c : rows.cells()) ops.push_back(gfni::AffineOperand(c));
  return ops;
}

// `blocks` after the twin ran over c: bytes [offset, offset + len) of each
// output equal the reference backend's rows x inputs, and every other byte
// (inputs, guards, the outputs outside the range) equal `before`.
void ExpectReferenceResult(const Case& c, const GfMatrix& rows, const Blocks& before,
                           const Blocks& blocks) {
  std::unique_ptr<Backend> reference;
  ASSERT_TRUE(CreateBackend({"reference", {10, 4, MatrixKind::kCauchy}, 1}, &reference).ok());
  std::vector<const std::uint8_t*> in;
  for (std::size_t j = 0; j < c.k; ++j) in.push_back(blocks.block(j) + c.offset);
  std::vector<std::vector<std::uint8_t>> want(c.r, std::vector<std::uint8_t>(c.len));
  std::vector<std::uint8_t*> out;
  for (auto& w : want) out.push_back(w.data());
  if (c.len > 0) ASSERT_TRUE(reference->Apply({&rows, 1, c.len, in.data(), out.data()}).ok());
  for (std::size_t b = 0; b < blocks.blocks(); ++b) {
    std::vector<std::uint8_t> expected = before.Window(b);
    if (b >= c.k)
      std::copy(want[b - c.k].begin(), want[b - c.k].end(), expected.begin() + kGuard + c.offset);
    const std::vector<std::uint8_t> got = blocks.Window(b);
    const auto d = std::mismatch(got.begin(), got.end(), expected.begin());
    ASSERT_TRUE(d.first == got.end())
        << c.Describe() << ": block " << b << " byte "
        << (d.first - got.begin()) - std::ptrdiff_t{kGuard} << " is " << int(*d.first)
        << ", the reference backend gives " << int(*d.second);
  }
}

TEST(GfniPlainTwin, ApplyPlainMatchesTheReferenceBackend) {
  for (const Case& c : Cases(60, 1)) {
    const GfMatrix rows = RandomRows(c.r, c.k, c.seed);
    const std::vector<std::uint64_t> ops = Operands(rows);
    Blocks blocks(c.k, c.r, c.offset + c.len, c.seed);
    const Blocks before(c.k, c.r, c.offset + c.len, c.seed);
    gfni::ApplyPlain(blocks.Args(ops, c.offset, c.len));
    ExpectReferenceResult(c, rows, before, blocks);
    if (HasFatalFailure()) return;
  }
}

class GfniKernelTwinTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    std::string why;
    if (!GfniBackend::Supported(GetParam(), &why))
      GTEST_SKIP() << GfniBackend::IsaName(GetParam()) << " kernel not run: " << why
                   << " (its plain twin is checked by GfniPlainTwin.*)";
  }
  void Run(const gfni::ApplyArgs& args) {
    if (GetParam() == Isa::kAvx512)
      gfni::ApplyAvx512(args);
    else
      gfni::ApplyAvx2(args);
  }
};

TEST_P(GfniKernelTwinTest, MatchesItsPlainTwinByteForByte) {
  for (const Case& c : Cases(200, 2)) {
    const std::vector<std::uint64_t> ops = Operands(RandomRows(c.r, c.k, c.seed));
    Blocks optimized(c.k, c.r, c.offset + c.len, c.seed);
    Blocks plain(c.k, c.r, c.offset + c.len, c.seed);
    Run(optimized.Args(ops, c.offset, c.len));
    gfni::ApplyPlain(plain.Args(ops, c.offset, c.len));
    ASSERT_TRUE(SameBytes(optimized, plain)) << c.Describe();
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, GfniKernelTwinTest, ::testing::Values(Isa::kAvx512, Isa::kAvx2),
                         [](const auto& info) {
                           return std::string(GfniBackend::IsaName(info.param));
                         });

// The folding kernels' cases: whole 64-byte chunks (their contract), walked
// in tiles of random multiples of 64 bytes as the backend walks a block.
struct FoldCase {
  Case c;
  std::vector<std::size_t> tiles;  // their lengths, summing to c.len
};

std::vector<FoldCase> FoldCases(std::size_t count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<FoldCase> cases;
  for (Case c : Cases(count, seed)) {
    c.len = (c.len / 64 + (c.len < 64 ? 1 : 0)) * 64;  // at least one chunk
    FoldCase f{c, {}};
    for (std::size_t done = 0; done < c.len;) {
      const std::size_t tile = std::min<std::size_t>(64 * (1 + rng() % 24), c.len - done);
      f.tiles.push_back(tile);
      done += tile;
    }
    cases.push_back(f);
  }
  return cases;
}

using FoldingKernel = void (*)(const gfni::ApplyArgs&, const gfni::CrcFoldConstants&,
                               gfni::CrcFoldState*, bool);

// Runs `kernel` over f's tiles; returns the k + r fold states.
std::vector<gfni::CrcFoldState> Fold(FoldingKernel kernel, const FoldCase& f,
                                     const std::vector<std::uint64_t>& ops, const Blocks& blocks) {
  std::vector<gfni::CrcFoldState> states(f.c.k + f.c.r);
  for (auto& s : states) std::memset(s.bytes, 0xCD, sizeof(s.bytes));  // ignored at `first`
  const gfni::CrcFoldConstants constants = gfni::MakeCrcFoldConstants();
  std::size_t done = 0;
  for (std::size_t tile : f.tiles) {
    kernel(blocks.Args(ops, f.c.offset + done, tile), constants, states.data(), done == 0);
    done += tile;
  }
  return states;
}

TEST(GfniPlainTwin, FoldingPlainGivesTheReferenceBytesAndEachBlocksCrc32c) {
  for (const FoldCase& f : FoldCases(40, 3)) {
    const Case& c = f.c;
    const GfMatrix rows = RandomRows(c.r, c.k, c.seed);
    const std::vector<std::uint64_t> ops = Operands(rows);
    Blocks blocks(c.k, c.r, c.offset + c.len, c.seed);
    const Blocks before(c.k, c.r, c.offset + c.len, c.seed);
    const auto states = Fold(gfni::ApplyFoldingCrcPlain, f, ops, blocks);
    ExpectReferenceResult(c, rows, before, blocks);
    if (HasFatalFailure()) return;
    for (std::size_t b = 0; b < c.k + c.r; ++b)
      ASSERT_EQ(Crc32c(states[b].bytes, 64, 0xFFFFFFFFu), Crc32c(blocks.block(b) + c.offset, c.len))
          << c.Describe() << " block " << b << " tiles " << f.tiles.size();
  }
}

TEST(GfniKernelTwin, FoldingAvx512MatchesItsPlainTwin) {
  std::string why;
  if (!GfniBackend::Supported(Isa::kAvx512, &why))
    GTEST_SKIP() << "ApplyFoldingCrcAvx512 not run: " << why;
  if (!__builtin_cpu_supports("vpclmulqdq"))
    GTEST_SKIP() << "ApplyFoldingCrcAvx512 not run: CPU lacks VPCLMULQDQ";
  for (const FoldCase& f : FoldCases(120, 4)) {
    const Case& c = f.c;
    const std::vector<std::uint64_t> ops = Operands(RandomRows(c.r, c.k, c.seed));
    Blocks optimized(c.k, c.r, c.offset + c.len, c.seed);
    Blocks plain(c.k, c.r, c.offset + c.len, c.seed);
    const auto got = Fold(gfni::ApplyFoldingCrcAvx512, f, ops, optimized);
    const auto want = Fold(gfni::ApplyFoldingCrcPlain, f, ops, plain);
    ASSERT_TRUE(SameBytes(optimized, plain)) << c.Describe();
    for (std::size_t b = 0; b < c.k + c.r; ++b) {
      ASSERT_EQ(std::memcmp(got[b].bytes, want[b].bytes, 64), 0)
          << c.Describe() << ": fold state of block " << b;
      ASSERT_EQ(Crc32c(got[b].bytes, 64, 0xFFFFFFFFu), Crc32c(optimized.block(b) + c.offset, c.len))
          << c.Describe() << " block " << b;
    }
  }
}

}  // namespace
}  // namespace fls
