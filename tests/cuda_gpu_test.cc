// The cuda backend on a real GPU, against ISA-L: encode and reconstruct on
// random data for the fixed and generic kernel paths, batches that span many
// sub-batches (and so every stream), odd block lengths and concurrent callers.
// Where no device answers, every test is skipped with the probe's reason
// ("built without CUDA" when this binary has no CUDA backend at all).
#include <gtest/gtest.h>

#include <cstring>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fls/backend.h"
#include "fls/backend_registry.h"
#include "fls/codec.h"
#ifdef FLS_HAVE_CUDA
#include "host/cuda/cuda_backend.h"
#endif

namespace fls {
namespace {

// Empty when a device answers, else why the GPU tests cannot run.
std::string WhyNoDevice() {
#ifdef FLS_HAVE_CUDA
  std::string detail;
  return ProbeCudaDevice(&detail) ? std::string() : detail;
#else
  return "built without CUDA (FLS_CUDA=OFF or nvcc not found)";
#endif
}

#define FLS_REQUIRE_GPU()                  \
  do {                                     \
    const std::string why = WhyNoDevice(); \
    if (!why.empty()) GTEST_SKIP() << why; \
  } while (0)

std::vector<std::uint8_t> RandomBytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint8_t> v(n);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const std::uint64_t x = rng();
    std::memcpy(&v[i], &x, 8);
  }
  for (; i < n; ++i) v[i] = static_cast<std::uint8_t>(rng());
  return v;
}

struct Stripes {
  int k, m;
  std::size_t block, stripes;
  std::vector<std::uint8_t> data, parity;
  std::vector<const std::uint8_t*> data_ptrs;
  std::vector<std::uint8_t*> parity_ptrs;
  Stripes(int k_, int m_, std::size_t block_, std::size_t stripes_, std::uint64_t seed)
      : k(k_), m(m_), block(block_), stripes(stripes_) {
    data = RandomBytes(stripes * k * block, seed);
    parity.assign(stripes * m * block, 0xEE);
    for (std::size_t i = 0; i < stripes * k; ++i) data_ptrs.push_back(&data[i * block]);
    for (std::size_t i = 0; i < stripes * m; ++i) parity_ptrs.push_back(&parity[i * block]);
  }
  EncodeBatch Batch() { return {stripes, block, data_ptrs, parity_ptrs, {}}; }
};

std::unique_ptr<Backend> Make(const std::string& name, int k, int m) {
  std::unique_ptr<Backend> backend;
  const Status s = CreateBackend({name, {k, m, MatrixKind::kCauchy}, 2}, &backend);
  EXPECT_TRUE(s.ok()) << name << ": " << s.ToString();
  return backend;
}

// Encodes on `cuda` and on isal, byte-compares, then reconstructs the first
// min(m, 4) data shards plus the last parity on cuda and compares them.
void CheckAgainstIsal(Backend& cuda, std::size_t block, std::size_t stripes, std::uint64_t seed) {
  const int k = cuda.codec().k(), m = cuda.codec().m();
  auto isal = Make("isal", k, m);
  ASSERT_NE(isal, nullptr);
  Stripes got(k, m, block, stripes, seed), want(k, m, block, stripes, seed);
  ASSERT_TRUE(isal->Encode(want.Batch()).ok());
  const Status s = cuda.Encode(got.Batch());
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(got.parity, want.parity) << k << "+" << m << " block " << block;

  const int lost_data = std::min({m, 4, k});
  std::vector<int> wanted;
  for (int i = 0; i < lost_data; ++i) wanted.push_back(i);
  if (lost_data < m) wanted.push_back(k + m - 1);
  const std::size_t n = static_cast<std::size_t>(k + m);
  std::vector<const std::uint8_t*> shards(stripes * n);
  std::vector<std::uint8_t> out(stripes * wanted.size() * block);
  std::vector<std::uint8_t*> outs;
  for (std::size_t i = 0; i < stripes * wanted.size(); ++i) outs.push_back(&out[i * block]);
  for (std::size_t s2 = 0; s2 < stripes; ++s2)
    for (std::size_t i = 0; i < n; ++i) {
      bool gone = false;
      for (int w : wanted) gone |= static_cast<std::size_t>(w) == i;
      shards[s2 * n + i] = gone                              ? nullptr
                           : i < static_cast<std::size_t>(k) ? want.data_ptrs[s2 * k + i]
                                                             : want.parity_ptrs[s2 * m + (i - k)];
    }
  const Status rs = cuda.Reconstruct({stripes, block, shards, wanted, outs});
  ASSERT_TRUE(rs.ok()) << rs.ToString();
  for (std::size_t s2 = 0; s2 < stripes; ++s2)
    for (std::size_t w = 0; w < wanted.size(); ++w) {
      const int shard = wanted[w];
      const std::uint8_t* truth =
          shard < k ? want.data_ptrs[s2 * k + shard] : want.parity_ptrs[s2 * m + (shard - k)];
      ASSERT_EQ(std::memcmp(outs[s2 * wanted.size() + w], truth, block), 0)
          << "stripe " << s2 << " shard " << shard;
    }
}

TEST(CudaGpu, CommonShapesMatchIsal) {
  FLS_REQUIRE_GPU();
  for (auto [k, m] : {std::pair{10, 4}, std::pair{6, 3}, std::pair{17, 3}, std::pair{8, 4}}) {
    auto cuda = Make("cuda", k, m);
    ASSERT_NE(cuda, nullptr);
    for (std::size_t block : {1, 15, 16, 17, 4095, 65536, (1 << 20) + 3})
      CheckAgainstIsal(*cuda, block, 3, block + k);
  }
}

TEST(CudaGpu, GenericPathsMatchIsal) {
  FLS_REQUIRE_GPU();
  // Shared-memory tables with R > 4, then global tables at k + m = 256.
  for (auto [k, m] : {std::pair{10, 6}, std::pair{5, 11}, std::pair{200, 56}, std::pair{252, 4}}) {
    auto cuda = Make("cuda", k, m);
    ASSERT_NE(cuda, nullptr);
    CheckAgainstIsal(*cuda, 4095, 2, k * 7 + m);
  }
}

#ifdef FLS_HAVE_CUDA
TEST(CudaGpu, SubBatchesAndColumnRangesOverEveryStreamMatchIsal) {
  FLS_REQUIRE_GPU();
  std::unique_ptr<Codec> codec;
  ASSERT_TRUE(Codec::Create({10, 4, MatrixKind::kCauchy}, &codec).ok());
  CudaBackendOptions options;
  options.streams = 3;
  options.sub_batch_bytes = 10 * 4096;  // one stripe per launch: 64 launches over 3 streams
  options.staging_threads = 2;
  std::unique_ptr<Backend> cuda;
  const Status s =
      CreateCudaBackend(std::shared_ptr<const Codec>(std::move(codec)), options, &cuda);
  ASSERT_TRUE(s.ok()) << s.ToString();
  CheckAgainstIsal(*cuda, 4095, 64, 64);
  // Stripes larger than a sub-batch go as 4 KiB column ranges.
  CheckAgainstIsal(*cuda, 65541, 3, 65);
}

TEST(CudaGpu, GenericKernelAgreesWithFixedOnTheDevice) {
  FLS_REQUIRE_GPU();
  std::unique_ptr<Codec> codec;
  ASSERT_TRUE(Codec::Create({10, 4, MatrixKind::kCauchy}, &codec).ok());
  CudaBackendOptions options;
  options.allow_fixed_kernels = false;
  std::unique_ptr<Backend> cuda;
  ASSERT_TRUE(
      CreateCudaBackend(std::shared_ptr<const Codec>(std::move(codec)), options, &cuda).ok());
  CheckAgainstIsal(*cuda, 65536 + 5, 9, 3);
}
#endif

TEST(CudaGpu, ConcurrentCallersGetTheirOwnBytes) {
  FLS_REQUIRE_GPU();
  auto cuda = Make("cuda", 10, 4);
  ASSERT_NE(cuda, nullptr);
  std::vector<std::unique_ptr<Stripes>> got, want;
  std::vector<std::future<Status>> futures;
  auto isal = Make("isal", 10, 4);
  for (int i = 0; i < 4; ++i) {
    got.push_back(std::make_unique<Stripes>(10, 4, 100000 + i, 20, i));
    want.push_back(std::make_unique<Stripes>(10, 4, 100000 + i, 20, i));
    ASSERT_TRUE(isal->Encode(want.back()->Batch()).ok());
  }
  for (auto& g : got) futures.push_back(cuda->EncodeAsync(g->Batch()));
  for (std::size_t i = 0; i < futures.size(); ++i) {
    const Status s = futures[i].get();
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(got[i]->parity, want[i]->parity) << "caller " << i;
  }
}

}  // namespace
}  // namespace fls
