// The CUDA kernel source checked on the CPU: the packed product tables, the
// work-item index mapping and grid, staging into the padded device layout
// (tails of 1, 15, 16, 17, 4095 bytes), every fixed (K, R) instance, the
// generic path for R > 4 and k + m = 256, and the cuda-cpu backend's bytes
// against the reference backend; the owning objects both backends build each
// launch with (KernelBuffer, KernelTables and their cache, KernelBatch). Also
// the registry's handling of `cuda`.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fls/backend.h"
#include "fls/backend_registry.h"
#include "fls/codec.h"
#include "fls/gf256.h"
#include "host/cuda/cuda_cpu_backend.h"
#include "host/cuda/kernel_batch.h"
#include "host/cuda/kernel_tables.h"
#include "host/cuda/rs_kernel_plan.h"
#include "kernels/rs_matrix_kernel.cuh"
#ifdef FLS_HAVE_CUDA
#include "host/cuda/cuda_status.h"
#endif

namespace fls {
namespace {

using kernels::KernelPath;

std::vector<std::uint8_t> RandomBytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

GfMatrix RandomRows(std::size_t r, std::size_t k, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  GfMatrix m(r, k);
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t j = 0; j < k; ++j) m.at(i, j) = static_cast<std::uint8_t>(rng());
  return m;
}

std::shared_ptr<const Codec> MakeCodec(int k, int m) {
  std::unique_ptr<Codec> codec;
  Status s = Codec::Create({k, m, MatrixKind::kCauchy}, &codec);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::shared_ptr<const Codec>(std::move(codec));
}

// Blocks of one encode batch, with the pointer arrays the backends take.
struct EncodeBuffers {
  std::size_t stripes, block;
  int k, m;
  std::vector<std::uint8_t> data, parity;
  std::vector<const std::uint8_t*> data_ptrs;
  std::vector<std::uint8_t*> parity_ptrs;

  EncodeBuffers(int k_, int m_, std::size_t block_, std::size_t stripes_, std::uint64_t seed)
      : stripes(stripes_), block(block_), k(k_), m(m_) {
    data = RandomBytes(stripes * k * block, seed);
    parity.assign(stripes * m * block, 0xEE);  // garbage the backend must overwrite
    for (std::size_t i = 0; i < stripes * k; ++i) data_ptrs.push_back(&data[i * block]);
    for (std::size_t i = 0; i < stripes * m; ++i) parity_ptrs.push_back(&parity[i * block]);
  }
  EncodeBatch Batch() { return {stripes, block, data_ptrs, parity_ptrs, {}}; }
};

// Parity of `backend` and of the reference backend on the same random data.
void ExpectEncodeMatchesReference(Backend& backend, std::size_t block, std::size_t stripes,
                                  std::uint64_t seed) {
  const int k = backend.codec().k(), m = backend.codec().m();
  EncodeBuffers got(k, m, block, stripes, seed), want(k, m, block, stripes, seed);
  std::unique_ptr<Backend> reference;
  ASSERT_TRUE(CreateBackend({"reference", backend.codec().params(), 1}, &reference).ok());
  ASSERT_TRUE(reference->Encode(want.Batch()).ok());
  const Status s = backend.Encode(got.Batch());
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(got.parity, want.parity)
      << k << "+" << m << " block " << block << " stripes " << stripes;
}

std::unique_ptr<Backend> MakeCudaCpu(int k, int m, CudaCpuOptions options = {}) {
  if (options.threads == 0) options.threads = 2;
  return std::make_unique<CudaCpuBackend>(MakeCodec(k, m), options);
}

TEST(PackedTables, LaneIHoldsRowIProducts) {
  for (std::size_t r : {1, 3, 4, 5, 9}) {
    for (std::size_t k : {1, 7, 17}) {
      const GfMatrix rows = RandomRows(r, k, r * 100 + k);
      const std::vector<std::uint32_t> tables = BuildPackedTables(rows);
      const std::size_t groups = (r + 3) / 4;
      ASSERT_EQ(tables.size(), groups * k * 256);
      ASSERT_EQ(tables.size(), kernels::TableWords(k, r));
      for (std::size_t g = 0; g < groups; ++g)
        for (std::size_t j = 0; j < k; ++j)
          for (unsigned x = 0; x < 256; ++x) {
            const std::uint32_t entry = tables[(g * k + j) * 256 + x];
            for (std::size_t lane = 0; lane < 4; ++lane) {
              const std::size_t row = g * 4 + lane;
              const unsigned want = row < r ? gf::Mul(rows.at(row, j), x) : 0;
              ASSERT_EQ((entry >> (8 * lane)) & 0xff, want)
                  << "r=" << r << " k=" << k << " group " << g << " input " << j << " x " << x
                  << " lane " << lane;
            }
          }
    }
  }
}

TEST(PackedTables, PackLanesPutsLaneIAtBits8i) {
  EXPECT_EQ(kernels::PackLanes(0x01, 0x02, 0x03, 0x04), 0x04030201u);
  EXPECT_EQ(kernels::PackLanes(0xff, 0, 0, 0x80), 0x800000ffu);
}

TEST(KernelArithmetic, AccumulateAndExtractGiveEachRowsProducts) {
  // One input column through one table of four rows with coefficients 1, 2, 3, 0x8e.
  const std::uint8_t coeff[4] = {1, 2, 3, 0x8e};
  std::vector<std::uint32_t> table(256);
  for (unsigned x = 0; x < 256; ++x)
    table[x] = kernels::PackLanes(gf::Mul(coeff[0], x), gf::Mul(coeff[1], x), gf::Mul(coeff[2], x),
                                  gf::Mul(coeff[3], x));
  const std::vector<std::uint8_t> bytes = RandomBytes(16, 7);
  const kernels::Column col = kernels::LoadColumn(bytes.data());
  for (std::uint32_t b = 0; b < 16; ++b) ASSERT_EQ(kernels::ByteOf(col, b), bytes[b]);
  std::uint32_t acc[16] = {};
  kernels::AccumulateColumn(table.data(), col, acc);
  kernels::AccumulateColumn(table.data(), col, acc);  // x ^ x: back to zero
  for (std::uint32_t v : acc) ASSERT_EQ(v, 0u);
  kernels::AccumulateColumn(table.data(), col, acc);
  for (std::uint32_t lane = 0; lane < 4; ++lane) {
    std::uint8_t out[16];
    kernels::StoreColumn(out, kernels::ExtractLane(acc, lane));
    for (int b = 0; b < 16; ++b) ASSERT_EQ(out[b], gf::Mul(coeff[lane], bytes[b])) << lane << b;
  }
}

TEST(KernelIndex, ItemsAreColumnFastest) {
  EXPECT_EQ(kernels::ItemToStripeColumn(0, 5).stripe, 0u);
  EXPECT_EQ(kernels::ItemToStripeColumn(4, 5).column, 4u);
  EXPECT_EQ(kernels::ItemToStripeColumn(5, 5).stripe, 1u);
  EXPECT_EQ(kernels::ItemToStripeColumn(5, 5).column, 0u);
  EXPECT_EQ(kernels::ItemToStripeColumn(17, 1).stripe, 17u);
  EXPECT_EQ(kernels::ItemToStripeColumn(17, 1).column, 0u);
}

TEST(KernelIndex, CursorWalksTheGridStrideSequence) {
  for (std::uint64_t columns : std::vector<std::uint64_t>{1, 2, 3, 7, 256, 65537}) {
    for (std::uint64_t stride : std::vector<std::uint64_t>{1, 5, 256, 2560, 1 << 20, 3 * 65537}) {
      for (std::uint64_t first : std::vector<std::uint64_t>{0, 1, stride - 1}) {
        kernels::ItemCursor c = kernels::ItemCursor::Start(first, stride, columns);
        for (std::uint64_t n = 0; n < 300; ++n, c.Advance()) {
          const kernels::StripeColumn want =
              kernels::ItemToStripeColumn(first + n * stride, columns);
          ASSERT_EQ(c.stripe, want.stripe) << columns << " " << stride << " " << first << " " << n;
          ASSERT_EQ(c.column, want.column) << columns << " " << stride << " " << first << " " << n;
        }
      }
    }
  }
}

TEST(KernelIndex, GridCoversItemsUpToTheResidentCap) {
  EXPECT_EQ(kernels::GridBlocks(0, 100), 1u);
  EXPECT_EQ(kernels::GridBlocks(1, 100), 1u);
  EXPECT_EQ(kernels::GridBlocks(256, 100), 1u);
  EXPECT_EQ(kernels::GridBlocks(257, 100), 2u);
  EXPECT_EQ(kernels::GridBlocks(1ull << 40, 100), 100u);
  EXPECT_EQ(kernels::GridBlocks(1000, 0), 1u);
}

TEST(KernelPathChoice, FixedSharedOrGlobal) {
  EXPECT_EQ(kernels::ChooseKernelPath(10, 4, true), KernelPath::kFixed);
  EXPECT_EQ(kernels::ChooseKernelPath(17, 3, true), KernelPath::kFixed);
  EXPECT_EQ(kernels::ChooseKernelPath(6, 1, true), KernelPath::kFixed);
  EXPECT_EQ(kernels::ChooseKernelPath(10, 4, false), KernelPath::kGenericShared);
  EXPECT_EQ(kernels::ChooseKernelPath(10, 5, true), KernelPath::kGenericShared);  // 20 KiB
  EXPECT_EQ(kernels::ChooseKernelPath(48, 4, true), KernelPath::kGenericShared);  // 48 KiB
  EXPECT_EQ(kernels::ChooseKernelPath(49, 4, true), KernelPath::kGenericGlobal);
  EXPECT_EQ(kernels::ChooseKernelPath(200, 56, true), KernelPath::kGenericGlobal);
  EXPECT_EQ(kernels::SharedTableBytes(KernelPath::kFixed, 10, 4), 10u * 1024);
  EXPECT_EQ(kernels::SharedTableBytes(KernelPath::kGenericGlobal, 200, 56), 0u);
}

TEST(Staging, PadsWithZerosAndCopiesBackExactlyTheBlock) {
  ThreadPool pool(2);
  for (std::size_t block : {1, 15, 16, 17, 4095}) {
    const std::size_t k = 3, r = 2, stripes = 2, padded = PaddedBlockBytes(block);
    ASSERT_EQ(padded % 16, 0u);
    ASSERT_GE(padded, block);
    ASSERT_LT(padded - block, 16u);
    const GfMatrix rows = RandomRows(r, k, 1);
    const std::vector<std::uint8_t> data = RandomBytes(stripes * k * block, block);
    std::vector<const std::uint8_t*> in;
    for (std::size_t i = 0; i < stripes * k; ++i) in.push_back(&data[i * block]);
    // Outputs with 16 guard bytes after each block, which unstaging must not touch.
    std::vector<std::uint8_t> outputs(stripes * r * (block + 16), 0x5A);
    std::vector<std::uint8_t*> out;
    for (std::size_t i = 0; i < stripes * r; ++i) out.push_back(&outputs[i * (block + 16)]);
    MatrixApply work{&rows, stripes, block, in.data(), out.data()};

    std::vector<std::uint8_t> staged(stripes * k * padded, 0xAB);  // stale bytes
    StageInputs(work, 0, stripes, staged.data(), pool);
    for (std::size_t i = 0; i < stripes * k; ++i) {
      ASSERT_EQ(std::memcmp(&staged[i * padded], in[i], block), 0) << "block " << block;
      for (std::size_t b = block; b < padded; ++b) ASSERT_EQ(staged[i * padded + b], 0) << b;
    }
    // A sub-range: stripe 1 alone lands at offset 0.
    std::vector<std::uint8_t> one(k * padded, 0xAB);
    StageInputs(work, 1, 1, one.data(), pool);
    ASSERT_EQ(std::memcmp(one.data(), in[k], block), 0);

    std::vector<std::uint8_t> result = RandomBytes(stripes * r * padded, block + 1);
    UnstageOutputs(work, 0, stripes, result.data(), pool);
    for (std::size_t i = 0; i < stripes * r; ++i) {
      ASSERT_EQ(std::memcmp(out[i], &result[i * padded], block), 0);
      for (std::size_t b = block; b < block + 16; ++b) ASSERT_EQ(out[i][b], 0x5A) << "guard";
    }
  }
}

TEST(SubBatches, CoverEveryByteOfEveryStripeOnce) {
  struct Case {
    std::size_t stripes, k, block, sub;
  };
  for (const Case c :
       {Case{5, 10, 4095, 0}, Case{5, 10, 4095, 1 << 30}, Case{7, 10, 4095, 3 * 40960},
        Case{3, 10, 65541, 40960}, Case{2, 17, 100, 1}, Case{1, 4, 1, 64}}) {
    const std::vector<SubBatch> plan = PlanSubBatches(c.stripes, c.k, c.block, c.sub);
    std::vector<std::vector<int>> seen(c.stripes, std::vector<int>(c.block, 0));
    for (const SubBatch& sub : plan) {
      ASSERT_GE(sub.count, 1u);
      ASSERT_GE(sub.length, 1u);
      if (plan.size() > 1) {  // each launch within the budget (16 bytes x k at least)
        ASSERT_LE(sub.count * c.k * PaddedBlockBytes(sub.length),
                  std::max<std::size_t>(c.sub, 16 * c.k));
      }
      if (sub.offset + sub.length < c.block) ASSERT_EQ(sub.length % 16, 0u);
      for (std::size_t s = sub.first; s < sub.first + sub.count; ++s)
        for (std::size_t b = sub.offset; b < sub.offset + sub.length; ++b) ++seen[s][b];
    }
    for (std::size_t s = 0; s < c.stripes; ++s)
      for (std::size_t b = 0; b < c.block; ++b)
        ASSERT_EQ(seen[s][b], 1) << "stripe " << s << " byte " << b << " sub " << c.sub;
  }
  EXPECT_EQ(PlanSubBatches(5, 10, 4095, 0).size(), 1u);
  EXPECT_EQ(PlanSubBatches(7, 10, 4096, 3 * 40960).size(), 3u);  // 3 + 3 + 1 stripes
  EXPECT_EQ(PlanSubBatches(1, 10, 65536, 40960).size(), 16u);    // 4 KiB column ranges
}

TEST(KernelBuffer, GrowsAtLeastTwofoldAndNeverShrinks) {
  KernelBuffer buf(HostKernelMemory());
  EXPECT_EQ(buf.data(), nullptr);
  ASSERT_TRUE(buf.Reserve(100).ok());
  ASSERT_NE(buf.data(), nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(buf.data()) % 64, 0u);
  EXPECT_EQ(buf.capacity(), 100u);
  std::uint8_t* first = buf.data();
  ASSERT_TRUE(buf.Reserve(60).ok());
  EXPECT_EQ(buf.data(), first);
  ASSERT_TRUE(buf.Reserve(101).ok());
  EXPECT_EQ(buf.capacity(), 200u);
  KernelBuffer moved(std::move(buf));
  EXPECT_EQ(moved.capacity(), 200u);
  EXPECT_EQ(buf.data(), nullptr);
}

// Memory that is always exhausted (as cudaMalloc is when the device is full;
// a real 2^62-byte host request would stop ASan instead of failing).
class ExhaustedMemory final : public KernelMemory {
 public:
  std::string_view name() const override { return "exhausted memory"; }
  Status Allocate(std::size_t, void**) const override {
    return Status::Unavailable("out of memory");
  }
  void Free(void* p) const override { EXPECT_EQ(p, nullptr); }
  Status CopyFromHost(void*, const void*, std::size_t) const override {
    return Status::Internal("nothing to copy into");
  }
};

TEST(KernelBuffer, ExhaustedMemoryIsUnavailableNamingWhatAndHowMuch) {
  const ExhaustedMemory memory;
  KernelBuffer buf(memory);
  const Status s = buf.Reserve(4096);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_EQ(s.message(), "allocating 4096 bytes of exhausted memory: out of memory");
  EXPECT_EQ(buf.capacity(), 0u);
  // And so does a launch that needs it, saying which buffer.
  const GfMatrix rows = RandomRows(4, 10, 6);
  std::shared_ptr<const KernelTables> tables;
  ASSERT_TRUE(KernelTables::Create(rows, HostKernelMemory(), &tables).ok());
  KernelBatch batch(memory);
  const Status b = batch.Prepare({&rows, 1, 64, nullptr, nullptr}, tables);
  EXPECT_EQ(b.code(), Status::Code::kUnavailable);
  EXPECT_EQ(b.message().rfind("kernel inputs: allocating 640 bytes", 0), 0u) << b.ToString();
  std::shared_ptr<const KernelTables> none;
  EXPECT_EQ(KernelTables::Create(rows, memory, &none).code(), Status::Code::kUnavailable);
  EXPECT_EQ(none, nullptr);
}

TEST(KernelTables, CacheBuildsEachMatrixOnceAndKeysOnItsShape) {
  KernelTableCache cache(HostKernelMemory());
  const GfMatrix rows = RandomRows(4, 10, 3);
  std::shared_ptr<const KernelTables> a, b;
  ASSERT_TRUE(cache.Get(rows, &a).ok());
  ASSERT_TRUE(cache.Get(rows, &b).ok());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->k(), 10u);
  EXPECT_EQ(a->r(), 4u);
  const std::vector<std::uint32_t> want = BuildPackedTables(rows);
  EXPECT_EQ(std::vector<std::uint32_t>(a->data(), a->data() + want.size()), want);
  // The same six zero cells as 2 x 3 and 3 x 2: different tables.
  std::shared_ptr<const KernelTables> wide, tall;
  ASSERT_TRUE(cache.Get(GfMatrix(2, 3), &wide).ok());
  ASSERT_TRUE(cache.Get(GfMatrix(3, 2), &tall).ok());
  EXPECT_NE(wide, tall);
  EXPECT_EQ(wide->k(), 3u);
  EXPECT_EQ(tall->k(), 2u);
}

TEST(KernelBatch, ViewDescribesThePaddedLayoutOfTheLaunch) {
  const GfMatrix rows = RandomRows(4, 10, 4);
  std::shared_ptr<const KernelTables> tables;
  ASSERT_TRUE(KernelTables::Create(rows, HostKernelMemory(), &tables).ok());
  KernelBatch batch(HostKernelMemory());
  const MatrixApply work{&rows, 3, 17, nullptr, nullptr};
  ASSERT_TRUE(batch.Prepare(work, tables).ok());
  const kernels::MatrixApplyView v = batch.view();
  EXPECT_EQ(v.inputs, batch.inputs());
  EXPECT_EQ(v.outputs, batch.outputs());
  EXPECT_EQ(v.tables, tables->data());
  EXPECT_EQ(v.k, 10u);
  EXPECT_EQ(v.r, 4u);
  EXPECT_EQ(v.stripes, 3u);
  EXPECT_EQ(v.padded_block, 32u);
  EXPECT_EQ(batch.input_bytes(), 3u * 10 * 32);
  EXPECT_EQ(batch.output_bytes(), 3u * 4 * 32);
  EXPECT_EQ(batch.path(true), KernelPath::kFixed);
  EXPECT_EQ(batch.path(false), KernelPath::kGenericShared);
  // A smaller launch reuses the buffers.
  ASSERT_TRUE(batch.Prepare({&rows, 1, 16, nullptr, nullptr}, tables).ok());
  EXPECT_EQ(batch.view().inputs, v.inputs);
  EXPECT_EQ(batch.view().padded_block, 16u);
  EXPECT_EQ(batch.input_bytes(), 160u);
}

TEST(KernelBatch, RefusesTablesOfAnotherMatrixShape) {
  const GfMatrix rows = RandomRows(4, 10, 5), other = RandomRows(3, 10, 5);
  std::shared_ptr<const KernelTables> tables;
  ASSERT_TRUE(KernelTables::Create(other, HostKernelMemory(), &tables).ok());
  KernelBatch batch(HostKernelMemory());
  const Status s = batch.Prepare({&rows, 1, 64, nullptr, nullptr}, tables);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("tables for 3 x 10 given for a 4 x 10 matrix"), std::string::npos)
      << s.ToString();
  EXPECT_EQ(batch.Prepare({&rows, 1, 64, nullptr, nullptr}, nullptr).code(),
            Status::Code::kInvalidArgument);
}

TEST(CudaCpu, SubBatchesAndColumnRangesMatchReference) {
  for (std::size_t sub : {std::size_t{3 * 40960}, std::size_t{40960}, std::size_t{1000}}) {
    CudaCpuOptions options;
    options.sub_batch_bytes = sub;
    auto backend = MakeCudaCpu(10, 4, options);
    ExpectEncodeMatchesReference(*backend, 4095, 7, sub);
    ExpectEncodeMatchesReference(*backend, 65541, 2, sub + 1);
  }
}

TEST(CudaCpu, TailsMatchReference) {
  auto backend = MakeCudaCpu(10, 4);
  for (std::size_t block : {1, 15, 16, 17, 4095})
    ExpectEncodeMatchesReference(*backend, block, 3, block);
}

TEST(CudaCpu, EveryFixedShapeMatchesReferenceAndTheGenericPath){
#define FLS_TEST_FIXED_SHAPE(K, R)                            \
  {                                                           \
    ASSERT_TRUE(kernels::IsFixedShape(K, R));                 \
    auto fixed = MakeCudaCpu(K, R);                           \
    ExpectEncodeMatchesReference(*fixed, 100, 3, K * 10 + R); \
    CudaCpuOptions generic;                                   \
    generic.allow_fixed_kernels = false;                      \
    auto gen = MakeCudaCpu(K, R, generic);                    \
    ExpectEncodeMatchesReference(*gen, 100, 3, K * 10 + R);   \
  }
    FLS_RS_FIXED_SHAPES(FLS_TEST_FIXED_SHAPE)
#undef FLS_TEST_FIXED_SHAPE
}

TEST(CudaCpu, GenericPathWithMoreThanFourRowsInSharedTables) {
  ASSERT_EQ(kernels::ChooseKernelPath(10, 6, true), KernelPath::kGenericShared);
  auto backend = MakeCudaCpu(10, 6);
  ExpectEncodeMatchesReference(*backend, 4095, 2, 106);
  ASSERT_EQ(kernels::ChooseKernelPath(5, 11, true), KernelPath::kGenericShared);
  auto odd = MakeCudaCpu(5, 11);
  ExpectEncodeMatchesReference(*odd, 17, 2, 511);
}

TEST(CudaCpu, GenericPathAtKPlusM256WithGlobalTables) {
  for (auto [k, m] : {std::pair{200, 56}, std::pair{128, 128}, std::pair{252, 4}}) {
    ASSERT_EQ(kernels::ChooseKernelPath(k, m, true), KernelPath::kGenericGlobal);
    auto backend = MakeCudaCpu(k, m);
    ExpectEncodeMatchesReference(*backend, 33, 2, k);
  }
}

TEST(CudaCpu, GridStrideLoopCoversManyItemsPerThread) {
  // One block of 256 threads for 5 stripes of 256 columns: 5 items per thread.
  CudaCpuOptions options;
  options.max_blocks = 1;
  auto backend = MakeCudaCpu(10, 4, options);
  ExpectEncodeMatchesReference(*backend, 4095, 5, 99);
  options.max_blocks = 3;  // a stride that is not a multiple of the columns
  auto three = MakeCudaCpu(8, 3, options);
  ExpectEncodeMatchesReference(*three, 1000, 7, 98);
}

TEST(CudaCpu, RandomShapesMatchReferenceThroughTheRegistry) {
  std::mt19937 rng(2024);
  for (int round = 0; round < 12; ++round) {
    const int k = 1 + static_cast<int>(rng() % 24), m = 1 + static_cast<int>(rng() % 8);
    const std::size_t block = 1 + rng() % 3000, stripes = 1 + rng() % 4;
    std::unique_ptr<Backend> backend;
    const Status s = CreateBackend({"cuda-cpu", {k, m, MatrixKind::kCauchy}, 2}, &backend);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(backend->name(), "cuda-cpu");
    ExpectEncodeMatchesReference(*backend, block, stripes, round);
  }
}

TEST(CudaCpu, ReconstructsLostDataAndParity) {
  const int k = 10, m = 4;
  const std::size_t block = 4095, stripes = 3;
  std::unique_ptr<Backend> backend;
  ASSERT_TRUE(CreateBackend({"cuda-cpu", {k, m, MatrixKind::kCauchy}, 2}, &backend).ok());
  EncodeBuffers buf(k, m, block, stripes, 5);
  ASSERT_TRUE(backend->Encode(buf.Batch()).ok());
  auto shard = [&](std::size_t s, int i) {
    return i < k ? buf.data_ptrs[s * k + i] : buf.parity_ptrs[s * m + (i - k)];
  };
  // Each stripe loses a different set; shard 5 is wanted though present.
  const std::vector<std::vector<int>> lost = {{0, 3, 11, 13}, {9}, {1, 2, 10, 12}};
  const std::vector<int> wanted = {0, 3, 11, 13, 9, 1, 2, 10, 12, 5};
  std::vector<const std::uint8_t*> shards(stripes * (k + m));
  std::vector<std::vector<std::uint8_t>> out(stripes * wanted.size(),
                                             std::vector<std::uint8_t>(block));
  std::vector<std::uint8_t*> outs;
  for (auto& o : out) outs.push_back(o.data());
  for (std::size_t s = 0; s < stripes; ++s)
    for (int i = 0; i < k + m; ++i) {
      bool gone = false;
      for (int l : lost[s]) gone |= l == i;
      shards[s * (k + m) + i] = gone ? nullptr : shard(s, i);
    }
  const Status st = backend->Reconstruct({stripes, block, shards, wanted, outs});
  ASSERT_TRUE(st.ok()) << st.ToString();
  for (std::size_t s = 0; s < stripes; ++s)
    for (std::size_t w = 0; w < wanted.size(); ++w)
      ASSERT_EQ(std::memcmp(out[s * wanted.size() + w].data(), shard(s, wanted[w]), block), 0)
          << "stripe " << s << " shard " << wanted[w];
}

TEST(Registry, CudaCpuIsListedLastAndNeverAuto) {
  const std::vector<BackendInfo> backends = DescribeBackends();
  ASSERT_GE(backends.size(), 4u);
  EXPECT_EQ(backends.front().name, "cuda");
  EXPECT_EQ(backends.back().name, "cuda-cpu");
  EXPECT_TRUE(backends.back().compiled);
  EXPECT_TRUE(backends.back().usable);
  EXPECT_NE(ResolveAutoBackend(), "cuda-cpu");
}

TEST(Registry, UnusableCudaIsAnErrorWithTheReasonNeverAFallback) {
  BackendInfo cuda;
  for (const BackendInfo& b : DescribeBackends())
    if (b.name == "cuda") cuda = b;
  ASSERT_EQ(cuda.name, "cuda");
  ASSERT_FALSE(cuda.detail.empty());
#ifndef FLS_HAVE_CUDA
  EXPECT_FALSE(cuda.compiled);
  EXPECT_EQ(cuda.detail, "built without CUDA (FLS_CUDA=OFF or nvcc not found)");
#endif
  std::unique_ptr<Backend> backend;
  const Status s = CreateBackend({"cuda", {10, 4, MatrixKind::kCauchy}, 1}, &backend);
  if (cuda.usable) {
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(backend->name(), "cuda");
    EXPECT_EQ(ResolveAutoBackend(), "cuda");
  } else {
    EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
    EXPECT_NE(s.message().find(cuda.detail), std::string::npos) << s.ToString();
    EXPECT_EQ(backend, nullptr);
    EXPECT_NE(ResolveAutoBackend(), "cuda");
  }
}

#ifdef FLS_HAVE_CUDA
Status FailingCudaCall(cudaError_t err) {
  FLS_CUDA_RETURN_IF_ERROR(err);
  return Status::Ok();
}

TEST(CudaStatus, NamesTheErrorTheCallAndWhere) {
  EXPECT_TRUE(FailingCudaCall(cudaSuccess).ok());
  const Status oom = FailingCudaCall(cudaErrorMemoryAllocation);
  EXPECT_EQ(oom.code(), Status::Code::kUnavailable);
  EXPECT_NE(oom.message().find("cudaErrorMemoryAllocation"), std::string::npos) << oom.ToString();
  EXPECT_NE(oom.message().find("in err at "), std::string::npos) << oom.ToString();
  EXPECT_NE(oom.message().find("cuda_kernel_test.cc:"), std::string::npos) << oom.ToString();
  const Status bad = FailingCudaCall(cudaErrorInvalidValue);
  EXPECT_EQ(bad.code(), Status::Code::kInternal);
  EXPECT_NE(bad.message().find("cudaErrorInvalidValue"), std::string::npos) << bad.ToString();
  EXPECT_EQ(FailingCudaCall(cudaErrorInsufficientDriver).code(), Status::Code::kUnavailable);
}
#endif

}  // namespace
}  // namespace fls
