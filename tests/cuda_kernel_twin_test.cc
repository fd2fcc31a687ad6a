// The matrix kernel's per-thread functions (kernels/rs_matrix_kernel.cuh)
// against their plain twins (kernels/rs_matrix_kernel_plain.h), on the CPU
// (the header is host-compilable: that is how cuda-cpu runs it). For every
// thread index of small grids, ThreadMainFixed<K, R> (every fixed shape) and
// ThreadMainGeneric (random shapes, tables in shared and in global memory)
// write exactly the bytes ThreadMainPlain writes for that thread, and nothing
// else; CopyTablesCooperative matches its twin for every thread of a block;
// and the twin over a whole grid gives the reference backend's bytes. Shapes:
// k and r up to 32 (the unrolled k and odd ones), blocks of 1 to 5000 bytes
// (the column and vector edges listed in RandomCase, then random ones),
// 1 to 3 stripes, inputs and outputs at addresses 1 to 15 bytes past a
// 16-byte boundary (the device needs 16-byte alignment; the host functions
// must not).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fls/backend_registry.h"
#include "fls/matrix.h"
#include "host/cuda/rs_kernel_plan.h"
#include "kernels/rs_matrix_kernel.cuh"
#include "kernels/rs_matrix_kernel_plain.h"

namespace fls {
namespace {

using kernels::KernelPath;
using kernels::MatrixApplyView;

GfMatrix RandomRows(std::size_t r, std::size_t k, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  GfMatrix m(r, k);
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t j = 0; j < k; ++j) m.at(i, j) = static_cast<std::uint8_t>(rng());
  return m;
}

struct Case {
  std::uint32_t k, r;
  std::size_t block, stripes;
  std::uint32_t grid_blocks;  // of kThreadsPerBlock threads
  std::uint64_t seed;
  std::string Describe() const {
    std::ostringstream s;
    s << "k=" << k << " r=" << r << " block=" << block << " stripes=" << stripes
      << " grid=" << grid_blocks << "x" << kernels::kThreadsPerBlock << " seed=" << seed;
    return s.str();
  }
};

Case RandomCase(std::uint32_t k, std::uint32_t r, std::mt19937_64& rng, std::uint64_t seed) {
  // Under one column, around the column, and multiples and non-multiples of
  // 32, 64 and 128. (A 0-byte block is never launched: the batch checks,
  // ValidateEncodeBatch and its siblings, refuse it before any Apply.)
  static const std::size_t kBlocks[] = {1,  15,  16,  17,  31,  32,  33,  63,   64,  65,
                                        96, 127, 128, 129, 255, 256, 257, 4095, 5000};
  const std::size_t block = rng() % 2 == 0 ? kBlocks[rng() % std::size(kBlocks)] : 1 + rng() % 5000;
  return {k, r, block, 1 + rng() % 3, 1 + static_cast<std::uint32_t>(rng() % 3), seed};
}

// One launch's device layout on the host: random input blocks with zeroed
// pads and output blocks holding random bytes (what a kernel must overwrite,
// or leave alone), each area at its own misalignment; with its tables.
struct Launch {
  Case c;
  GfMatrix rows;
  std::vector<std::uint32_t> tables;
  std::size_t padded;
  std::vector<std::uint8_t> in_storage, out_storage, sentinel;
  std::uint8_t* in;
  std::uint8_t* out;

  explicit Launch(const Case& c_)
      : c(c_),
        rows(RandomRows(c.r, c.k, c.seed)),
        tables(BuildPackedTables(rows)),
        padded(PaddedBlockBytes(c.block)) {
    std::mt19937_64 rng(c.seed);
    in_storage.resize(c.stripes * c.k * padded + 32);
    in = Misaligned(in_storage, rng);
    for (std::size_t b = 0; b < c.stripes * c.k; ++b)
      for (std::size_t i = 0; i < padded; ++i)
        in[b * padded + i] = i < c.block ? static_cast<std::uint8_t>(rng()) : 0;
    out_storage.resize(OutputBytes() + 32);
    out = Misaligned(out_storage, rng);
    sentinel.resize(OutputBytes());
    for (auto& b : sentinel) b = static_cast<std::uint8_t>(rng());
    ResetOutputs();
  }
  static std::uint8_t* Misaligned(std::vector<std::uint8_t>& storage, std::mt19937_64& rng) {
    const auto base = reinterpret_cast<std::uintptr_t>(storage.data());
    return reinterpret_cast<std::uint8_t*>((base + 15) / 16 * 16) + 1 + rng() % 15;
  }
  std::size_t OutputBytes() const { return c.stripes * c.r * padded; }
  void ResetOutputs() { std::memcpy(out, sentinel.data(), sentinel.size()); }
  std::vector<std::uint8_t> Outputs() const { return {out, out + OutputBytes()}; }
  MatrixApplyView View(const std::uint32_t* t) const {
    return {in, out, t, c.k, c.r, c.stripes, padded};
  }
  std::uint64_t GridThreads() const {
    return std::uint64_t{c.grid_blocks} * kernels::kThreadsPerBlock;
  }
  // Puts the sentinel back over the columns of `thread`'s items.
  void ResetThreadItems(std::uint64_t thread) {
    const std::uint64_t columns = padded / kernels::kColumnBytes;
    for (std::uint64_t item = thread; item < c.stripes * columns; item += GridThreads()) {
      const kernels::StripeColumn at = kernels::ItemToStripeColumn(item, columns);
      for (std::uint32_t i = 0; i < c.r; ++i) {
        const std::size_t o = (at.stripe * c.r + i) * padded + at.column * kernels::kColumnBytes;
        std::memcpy(out + o, sentinel.data() + o, kernels::kColumnBytes);
      }
    }
  }
};

// For every thread of c's grid: `thread_main` and the twin, each from the
// sentinel outputs, write the same bytes (so the same items, and nothing
// outside them). `tables` is what the block would read: the shared copy or
// the global tables.
template <typename ThreadMain>
void ExpectEveryThreadMatchesTwin(ThreadMain thread_main, const Case& c, const char* what) {
  Launch optimized(c), plain(c);
  std::vector<std::uint32_t> shared(optimized.tables.size());
  for (std::uint32_t t = 0; t < kernels::kThreadsPerBlock; ++t)
    kernels::CopyTablesCooperative(shared.data(), optimized.tables.data(),
                                   static_cast<std::uint32_t>(shared.size()), t,
                                   kernels::kThreadsPerBlock);
  ASSERT_EQ(shared, optimized.tables);
  const bool global = kernels::ChooseKernelPath(c.k, c.r, false) == KernelPath::kGenericGlobal;
  const std::uint32_t* tables = global ? optimized.tables.data() : shared.data();
  const std::uint64_t threads = optimized.GridThreads();
  for (std::uint64_t t = 0; t < threads; ++t) {
    thread_main(optimized.View(tables), tables, t, threads);
    kernels::ThreadMainPlain(plain.View(tables), tables, t, threads);
    const std::vector<std::uint8_t> got = optimized.Outputs(), want = plain.Outputs();
    const auto d = std::mismatch(got.begin(), got.end(), want.begin());
    ASSERT_TRUE(d.first == got.end())
        << what << ", " << c.Describe() << ": thread " << t << " wrote byte "
        << (d.first - got.begin()) << " of the outputs as " << int(*d.first) << ", its plain twin "
        << int(*d.second);
    optimized.ResetThreadItems(t);
    plain.ResetThreadItems(t);
  }
}

TEST(CudaKernelTwin, EveryFixedShapeMatchesThePlainTwinThreadByThread) {
  std::mt19937_64 rng(1);
  std::uint64_t seed = 100;
#define FLS_TWIN_FIXED_SHAPE(K, R)                                                            \
  ExpectEveryThreadMatchesTwin(kernels::ThreadMainFixed<K, R>, RandomCase(K, R, rng, ++seed), \
                               "ThreadMainFixed<" #K ", " #R ">");                            \
  if (HasFatalFailure()) return;
  FLS_RS_FIXED_SHAPES(FLS_TWIN_FIXED_SHAPE)
#undef FLS_TWIN_FIXED_SHAPE
}

TEST(CudaKernelTwin, GenericPathMatchesThePlainTwinThreadByThread) {
  std::mt19937_64 rng(2);
  std::vector<Case> cases;
  // Both table placements on purpose (48 KiB of tables is the line), the
  // unrolled k through the generic path, then random shapes up to 32 x 32.
  for (auto [k, r] : {std::pair{4u, 4u}, std::pair{10u, 4u}, std::pair{12u, 5u},
                      std::pair{17u, 12u}, std::pair{7u, 32u}, std::pair{1u, 1u}})
    cases.push_back(RandomCase(k, r, rng, k * 100 + r));
  for (int n = 0; n < 24; ++n) {
    const std::uint32_t k = n % 2 == 0 ? 2 * static_cast<std::uint32_t>(rng() % 16) + 1
                                       : 1 + static_cast<std::uint32_t>(rng() % 32);
    cases.push_back(RandomCase(k, 1 + static_cast<std::uint32_t>(rng() % 32), rng, 1000 + n));
  }
  bool saw_shared = false, saw_global = false;
  for (const Case& c : cases) {
    const KernelPath path = kernels::ChooseKernelPath(c.k, c.r, false);
    saw_shared |= path == KernelPath::kGenericShared;
    saw_global |= path == KernelPath::kGenericGlobal;
    ExpectEveryThreadMatchesTwin(kernels::ThreadMainGeneric, c, "ThreadMainGeneric");
    if (HasFatalFailure()) return;
  }
  EXPECT_TRUE(saw_shared && saw_global);
}

TEST(CudaKernelTwin, CooperativeTableCopyMatchesThePlainTwinPerThread) {
  for (std::uint32_t words : {1u, 255u, 256u, 257u, 10u * 256, 3u * 17 * 256}) {
    std::vector<std::uint32_t> src(words);
    std::mt19937 rng(words);
    for (auto& w : src) w = rng();
    for (std::uint32_t threads : {1u, 7u, kernels::kThreadsPerBlock}) {
      for (std::uint32_t t = 0; t < threads; ++t) {
        std::vector<std::uint32_t> got(words, 0xDEADBEEF), want(words, 0xDEADBEEF);
        kernels::CopyTablesCooperative(got.data(), src.data(), words, t, threads);
        kernels::CopyTablesPlain(want.data(), src.data(), words, t, threads);
        ASSERT_EQ(got, want) << "words " << words << " thread " << t << " of " << threads;
      }
    }
  }
}

TEST(CudaKernelTwin, PlainTwinOverTheWholeGridMatchesTheReferenceBackend) {
  std::unique_ptr<Backend> reference;
  ASSERT_TRUE(CreateBackend({"reference", {10, 4, MatrixKind::kCauchy}, 1}, &reference).ok());
  std::mt19937_64 rng(3);
  for (int n = 0; n < 30; ++n) {
    const std::uint32_t k = n < 5 ? 4 + 2 * n : 1 + static_cast<std::uint32_t>(rng() % 32);
    const Case c = RandomCase(k, 1 + static_cast<std::uint32_t>(rng() % 32), rng, 2000 + n);
    Launch launch(c);
    for (std::uint64_t t = 0; t < launch.GridThreads(); ++t)
      kernels::ThreadMainPlain(launch.View(launch.tables.data()), launch.tables.data(), t,
                               launch.GridThreads());
    std::vector<const std::uint8_t*> in;
    for (std::size_t b = 0; b < c.stripes * c.k; ++b) in.push_back(launch.in + b * launch.padded);
    std::vector<std::vector<std::uint8_t>> want(c.stripes * c.r,
                                                std::vector<std::uint8_t>(c.block));
    std::vector<std::uint8_t*> out;
    for (auto& w : want) out.push_back(w.data());
    ASSERT_TRUE(reference->Apply({&launch.rows, c.stripes, c.block, in.data(), out.data()}).ok());
    for (std::size_t b = 0; b < c.stripes * c.r; ++b) {
      const std::uint8_t* got = launch.out + b * launch.padded;
      for (std::size_t i = 0; i < launch.padded; ++i)
        ASSERT_EQ(got[i], i < c.block ? want[b][i] : 0)  // zero pads give zero products
            << c.Describe() << ": output block " << b << " byte " << i;
    }
  }
}

}  // namespace
}  // namespace fls
