// The known-answer self-test (host/backend_self_test.h): it passes on every
// backend usable here, in several shapes, and prints what it costs; it refuses
// a backend whose tables were corrupted on purpose (through the registry's
// test hook, so CreateBackend and `auto` are what is checked), a backend whose
// decode tables are wrong, whose block CRCs are wrong, whose masked tail is
// wrong, or that writes past its output blocks.
#include <gtest/gtest.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "fallback/isal_backend.h"
#include "fls/backend_registry.h"
#include "fls/crc32c.h"
#include "fls/gf256.h"
#include "host/backends/backend_self_test.h"

#if FLS_HAVE_GFNI
#include "fallback/gfni_backend.h"
#endif

// Under a sanitizer every backend runs tens of times slower: one timed run
// each, and no bound on it.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FLS_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FLS_TEST_SANITIZED 1
#endif
#endif
#ifdef FLS_TEST_SANITIZED
constexpr int kTimedRuns = 1;
constexpr bool kBounded = false;
#else
constexpr int kTimedRuns = 5;
constexpr bool kBounded = true;
#endif

namespace fls {
namespace {

std::shared_ptr<const Codec> MakeCodec(int k, int m) {
  std::unique_ptr<Codec> codec;
  Status s = Codec::Create({k, m, MatrixKind::kCauchy}, &codec);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return codec;
}

double ThreadCpuMicros() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Removes the registry's test hook however the test ends.
struct HookGuard {
  ~HookGuard() { SetBackendCreatedHookForTesting(nullptr); }
};

// Flips the lowest bit of one encode coefficient in the tables of an isal or
// gfni backend (the one `name` says), as a corrupted table would.
BackendCreatedHook CorruptEncodeTables(const std::string& name) {
  return [name](Backend& backend) {
    if (backend.name() != name) return;
    const GfMatrix& rows = backend.codec().parity_rows();
    if (auto* isal = dynamic_cast<IsalBackend*>(&backend))
      isal->CorruptCoefficientForTesting(rows, 7);
#if FLS_HAVE_GFNI
    if (auto* gfni = dynamic_cast<GfniBackend*>(&backend))
      gfni->CorruptCoefficientForTesting(rows, 7);
#endif
  };
}

void ExpectFullReport(const std::string& report, const std::string& backend) {
  EXPECT_TRUE(Contains(report, "backend '" + backend + "' failed its known-answer self-test"))
      << report;
  EXPECT_TRUE(Contains(report, "CPU features: ")) << report;
  EXPECT_TRUE(Contains(report, "compiler: " + CompilerDescription())) << report;
  EXPECT_TRUE(Contains(report, "runs on: ")) << report;
}

TEST(BackendSelfTest, PassesOnEveryUsableBackendAndCostsLittle) {
  for (const BackendInfo& info : DescribeBackends()) {
    if (!info.usable || info.name == "reference") continue;  // the oracle itself
    for (auto [k, m] : {std::pair{10, 4}, std::pair{4, 2}, std::pair{1, 1}, std::pair{17, 3},
                        std::pair{200, 56}}) {
      std::unique_ptr<Backend> backend;
      Status s = CreateBackend({info.name, {k, m, MatrixKind::kCauchy}, 1}, &backend);
      ASSERT_TRUE(s.ok()) << info.name << " " << k << "+" << m << ": " << s.ToString();
      // The fastest of a few runs, in wall time and in this thread's CPU
      // time (a 1-thread backend computes on the caller), which other
      // processes on a shared machine disturb less.
      double best_us = 1e300, best_cpu_us = 1e300;
      for (int run = 0; run < kTimedRuns; ++run) {
        const auto t0 = std::chrono::steady_clock::now();
        const double c0 = ThreadCpuMicros();
        s = SelfTestBackend(*backend, info.detail);
        const double c1 = ThreadCpuMicros();
        const auto t1 = std::chrono::steady_clock::now();
        ASSERT_TRUE(s.ok()) << s.ToString();
        best_us = std::min(best_us, std::chrono::duration<double, std::micro>(t1 - t0).count());
        best_cpu_us = std::min(best_cpu_us, c1 - c0);
      }
      std::printf("self-test %-9s %3d+%-3d wall %8.0f us, thread CPU %8.0f us\n", info.name.c_str(),
                  k, m, best_us, best_cpu_us);
      // A bound only against a test that has grown out of all proportion.
      if (kBounded) EXPECT_LT(best_us, 1e6) << info.name << " " << k << "+" << m;
    }
  }
}

TEST(BackendSelfTest, RefusesCorruptedTablesThroughTheRegistry) {
  HookGuard guard;
  SetBackendCreatedHookForTesting(CorruptEncodeTables("isal"));
  std::unique_ptr<Backend> backend;
  Status s = CreateBackend({"isal", {10, 4, MatrixKind::kCauchy}, 2}, &backend);
  ASSERT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_EQ(backend, nullptr);
  ExpectFullReport(s.message(), "isal");
  // Coefficient 7 of parity row 0: the first block tested (1 byte) already
  // differs in parity shard 10.
  EXPECT_TRUE(Contains(s.message(), "encode 10+4 (its own shape), block 1 bytes")) << s.ToString();
  EXPECT_TRUE(Contains(s.message(), "parity shard 10: byte 0 is 0x")) << s.ToString();
  EXPECT_TRUE(Contains(s.message(), "the reference backend gives 0x")) << s.ToString();

  // Refused for the rest of the process (until the hook changes), and listed so.
  s = CreateBackend({"isal", {10, 4, MatrixKind::kCauchy}, 1}, &backend);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  for (const BackendInfo& info : DescribeBackends())
    if (info.name == "isal") {
      EXPECT_FALSE(info.usable);
      EXPECT_TRUE(Contains(info.detail, "known-answer self-test")) << info.detail;
    }

  SetBackendCreatedHookForTesting(nullptr);
  s = CreateBackend({"isal", {10, 4, MatrixKind::kCauchy}, 2}, &backend);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(backend->name(), "isal");
}

// `auto` passes over a refused backend: to the next usable one, or, where
// none is left (here: no CUDA device, no GFNI), an error naming the refusal.
TEST(BackendSelfTest, AutoMovesOnPastARefusedBackend) {
  const std::string first = ResolveAutoBackend();
  if (first != "isal" && first != "gfni")
    GTEST_SKIP() << "auto resolves to '" << first << "', which this test cannot corrupt";
  std::string next;
  bool after_first = false;
  for (const BackendInfo& info : DescribeBackends()) {
    if (info.name == first) {
      after_first = true;
    } else if (after_first && next.empty() && info.usable && info.name != "reference" &&
               info.name != "cuda-cpu") {
      next = info.name;
    }
  }

  HookGuard guard;
  SetBackendCreatedHookForTesting(CorruptEncodeTables(first));
  std::unique_ptr<Backend> backend;
  Status s = CreateBackend({"auto", {10, 4, MatrixKind::kCauchy}, 1}, &backend);
  if (!next.empty()) {
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(backend->name(), next);
    EXPECT_EQ(ResolveAutoBackend(), next);
  } else {
    ASSERT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
    EXPECT_TRUE(Contains(s.message(), "backend 'auto'")) << s.ToString();
    ExpectFullReport(s.message(), first);
    EXPECT_EQ(backend, nullptr);
  }
  // The refusal is what `fls version` lists.
  for (const BackendInfo& info : DescribeBackends())
    if (info.name == first) EXPECT_FALSE(info.usable) << info.detail;
}

TEST(BackendSelfTest, RefusesWrongDecodeTables) {
  auto codec = MakeCodec(10, 4);
  IsalBackend backend(codec, 1);
  // The plan of the first loss pattern tested: data shards 0..3 lost.
  std::vector<bool> present(14, true);
  for (int i = 0; i < 4; ++i) present[i] = false;
  const std::vector<int> wanted = {0, 1, 2, 3};
  std::shared_ptr<const DecodePlan> plan;
  ASSERT_TRUE(codec->PlanFor(present, wanted, &plan).ok());
  backend.CorruptCoefficientForTesting(plan->rows, 12);
  const Status s = SelfTestBackend(backend, "test");
  ASSERT_EQ(s.code(), Status::Code::kUnavailable);
  ExpectFullReport(s.message(), "isal");
  EXPECT_TRUE(Contains(s.message(),
                       "reconstruct 10+4 (its own shape), block 1 bytes, lost shards "
                       "0,1,2,3 / 0,1,2,3 / 0,1,2,3"))
      << s.message();
  EXPECT_TRUE(Contains(s.message(), "shard 1: byte 0")) << s.message();
}

// A backend with the reference's arithmetic and one planted fault.
class FaultyBackend final : public Backend {
 public:
  enum class Fault { kCrc, kOverrun, kTail };
  FaultyBackend(std::shared_ptr<const Codec> codec, Fault fault)
      : Backend(std::move(codec)), fault_(fault) {}
  std::string_view name() const override { return "faulty"; }

 protected:
  Status Apply(const MatrixApply& w) override {
    const std::size_t k = w.rows->cols(), r = w.rows->rows(), len = w.block_bytes;
    for (std::size_t s = 0; s < w.stripes; ++s)
      for (std::size_t i = 0; i < r; ++i) {
        std::uint8_t* out = w.outputs[s * r + i];
        for (std::size_t b = 0; b < len; ++b) {
          std::uint8_t acc = 0;
          for (std::size_t j = 0; j < k; ++j)
            acc ^= gf::Mul(w.rows->at(i, j), w.inputs[s * k + j][b]);
          out[b] = acc;
        }
        // The self-test's blocks are followed by canary bytes it owns.
        if (fault_ == Fault::kOverrun && len > 64) out[len] ^= 1;
        if (fault_ == Fault::kTail && len > 64 && len % 64 != 0) out[len - 1] ^= 0x80;
      }
    return Status::Ok();
  }
  Status ApplyWithCrcs(const MatrixApply& w, std::span<std::uint32_t> crcs) override {
    FLS_RETURN_IF_ERROR(Backend::ApplyWithCrcs(w, crcs));
    if (fault_ == Fault::kCrc) crcs[crcs.size() - 1] ^= 1;
    return Status::Ok();
  }

 private:
  Fault fault_;
};

TEST(BackendSelfTest, RefusesWrongCrcsTailsAndOverruns) {
  auto codec = MakeCodec(10, 4);
  FaultyBackend crc(codec, FaultyBackend::Fault::kCrc);
  Status s = SelfTestBackend(crc, "test");
  ASSERT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_TRUE(Contains(s.message(),
                       "encode with block CRCs 10+4 (its own shape), block 1 bytes, "
                       "stripe 2, shard 13: block CRC32C is 0x"))
      << s.message();

  FaultyBackend tail(codec, FaultyBackend::Fault::kTail);
  s = SelfTestBackend(tail, "test");
  ASSERT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_TRUE(Contains(s.message(),
                       "encode 10+4 (its own shape), block 200 bytes, stripe 0, "
                       "parity shard 10: byte 199"))
      << s.message();

  FaultyBackend overrun(codec, FaultyBackend::Fault::kOverrun);
  s = SelfTestBackend(overrun, "test");
  ASSERT_EQ(s.code(), Status::Code::kUnavailable);
  EXPECT_TRUE(Contains(s.message(), "block 200 bytes: wrote outside its output blocks"))
      << s.message();

  // The same arithmetic without a fault passes: the faults are what fails.
  FaultyBackend none(codec, static_cast<FaultyBackend::Fault>(-1));
  EXPECT_TRUE(SelfTestBackend(none, "test").ok());
}

TEST(BackendSelfTest, NamesTheCompilerAndCpu) {
  const std::string compiler = CompilerDescription();
  EXPECT_TRUE(compiler.rfind("GCC ", 0) == 0 || compiler.rfind("clang ", 0) == 0) << compiler;
  const std::string cpu = CpuFeatureDescription();
  EXPECT_FALSE(cpu.empty());
#if FLS_HAVE_GFNI
  EXPECT_TRUE(Contains(cpu, "; gfni probe: ")) << cpu;
#endif
}

}  // namespace
}  // namespace fls
