// BatchingBackend (fls/batching_backend.h): concurrent callers' batches are
// merged into fewer inner calls, the bytes (parity, CRCs, rebuilt blocks) are
// those of the inner backend called directly, the byte limit and the latency
// limit hold, a lone caller does not wait, errors reach every caller of a
// group, and batches of different block sizes are never merged.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "fls/backend_registry.h"
#include "fls/batching_backend.h"
#include "test_util.h"

namespace fls {
namespace {

using ::fls::testing::StripeSet;
using Clock = std::chrono::steady_clock;

constexpr int kK = 4, kM = 2;

std::shared_ptr<Backend> MakeInner(const std::string& name) {
  BackendProfile p;
  p.backend = name;
  p.codec.k = kK;
  p.codec.m = kM;
  p.threads = 1;
  std::unique_ptr<Backend> b;
  Status s = CreateBackend(p, &b);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::shared_ptr<Backend>(std::move(b));
}

// Test double for the inner backend: records the size of every call it gets
// and either encodes through the isal backend or fails on purpose (the
// error path). Encode batches only (Apply's rows are the parity rows).
class RecordingBackend : public Backend {
 public:
  explicit RecordingBackend(bool fail)
      : Backend(MakeInner("isal")->shared_codec()), isal_(MakeInner("isal")), fail_(fail) {}
  std::string_view name() const override { return "recording"; }
  struct Call {
    std::size_t stripes, block_bytes;
  };
  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 protected:
  Status Apply(const MatrixApply& w) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back({w.stripes, w.block_bytes});
    }
    if (fail_) return Status::IOError("recording backend: failing on purpose");
    EncodeBatch eb;
    eb.stripes = w.stripes;
    eb.block_bytes = w.block_bytes;
    eb.data = {w.inputs, w.stripes * kK};
    eb.parity = {w.outputs, w.stripes * kM};
    return isal_->Encode(eb);
  }

 private:
  std::shared_ptr<Backend> isal_;
  bool fail_;
  mutable std::mutex mu_;
  std::vector<Call> calls_;
};

// One caller's batch: its stripes, and the result of encoding them.
struct Job {
  StripeSet set;
  std::vector<const std::uint8_t*> data;
  std::vector<std::uint8_t*> parity;
  std::vector<std::uint32_t> crcs;
  Job(std::size_t block, std::size_t stripes, std::uint64_t seed)
      : set(kK, kM, block, stripes, seed),
        data(set.DataPtrs()),
        parity(set.ParityPtrs()),
        crcs(stripes * (kK + kM)) {}
  EncodeBatch Batch(bool with_crcs) {
    EncodeBatch b;
    b.stripes = set.stripes;
    b.block_bytes = set.block;
    b.data = data;
    b.parity = parity;
    if (with_crcs) b.block_crcs = crcs;
    return b;
  }
};

// Parity and CRCs of `job` as the isal backend computes them directly.
void ExpectSameAsDirect(Job& job, bool with_crcs) {
  Job direct(job.set.block, job.set.stripes, 0);
  direct.set.blocks = job.set.blocks;
  direct.data = direct.set.DataPtrs();
  direct.parity = direct.set.ParityPtrs();
  for (auto* p : direct.parity) std::fill_n(p, job.set.block, 0);
  ASSERT_TRUE(MakeInner("isal")->Encode(direct.Batch(with_crcs)).ok());
  for (std::size_t s = 0; s < job.set.stripes; ++s)
    for (int p = 0; p < kM; ++p)
      ASSERT_EQ(job.set.at(s, kK + p), direct.set.at(s, kK + p)) << "stripe " << s;
  if (with_crcs) EXPECT_EQ(job.crcs, direct.crcs);
}

// Runs fn(i) on n threads, each holding a participant registered before any
// thread starts, and returns when all are done.
void RunParticipants(BatchingBackend& b, int n, const std::function<void(int)>& fn) {
  std::vector<BatchingBackend::Participant> parts;
  for (int i = 0; i < n; ++i) parts.push_back(b.Join());
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i, p = std::move(parts[i])]() mutable {
      fn(i);
      p.Release();
    });
  for (auto& t : threads) t.join();
}

TEST(BatchingBackend, ConcurrentEncodesMergeAndMatchDirectCalls) {
  auto batching =
      std::make_shared<BatchingBackend>(MakeInner("isal"), BatchLimits{64u << 20, 5000});
  constexpr int kThreads = 8, kRounds = 4;
  std::vector<std::unique_ptr<Job>> jobs;
  for (int i = 0; i < kThreads * kRounds; ++i)
    jobs.push_back(std::make_unique<Job>(4096 + 64 * (i % 3 == 0), 1 + i % 3, 100 + i));
  // Block sizes 4096 and 4160: two keys, never merged with each other.
  std::atomic<int> failures{0};
  RunParticipants(*batching, kThreads, [&](int t) {
    for (int r = 0; r < kRounds; ++r)
      if (!batching->Encode(jobs[t * kRounds + r]->Batch(true)).ok()) ++failures;
  });
  EXPECT_EQ(failures, 0);
  for (auto& j : jobs) ExpectSameAsDirect(*j, true);
  const auto st = batching->stats();
  EXPECT_EQ(st.requests, static_cast<std::uint64_t>(kThreads * kRounds));
  EXPECT_LT(st.calls, st.requests) << "concurrent callers were never merged";
  EXPECT_GT(st.max_call_requests, 1u);
  EXPECT_EQ(st.bytes, [&] {
    std::uint64_t b = 0;
    for (auto& j : jobs) b += j->set.stripes * j->set.block * kK;
    return b;
  }());
}

TEST(BatchingBackend, WithoutCrcsToo) {
  auto batching =
      std::make_shared<BatchingBackend>(MakeInner("reference"), BatchLimits{1u << 20, 5000});
  std::vector<std::unique_ptr<Job>> jobs;
  for (int i = 0; i < 4; ++i) jobs.push_back(std::make_unique<Job>(1000, 2, 7 + i));
  RunParticipants(*batching, 4,
                  [&](int t) { ASSERT_TRUE(batching->Encode(jobs[t]->Batch(false)).ok()); });
  for (auto& j : jobs) ExpectSameAsDirect(*j, false);
  EXPECT_LT(batching->stats().calls, 4u);
}

TEST(BatchingBackend, MaxBytesBoundsEveryInnerCallButALargerSingleRequest) {
  auto rec = std::make_shared<RecordingBackend>(false);
  const std::size_t block = 4096;
  const std::uint64_t one = 2 * block * kK;  // a 2-stripe request's input bytes
  const std::uint64_t limit = 3 * one;
  BatchingBackend batching(rec, BatchLimits{limit, 5000});
  constexpr int kThreads = 8;
  std::vector<std::unique_ptr<Job>> jobs;
  for (int i = 0; i < kThreads; ++i)
    jobs.push_back(std::make_unique<Job>(block, i == 0 ? 7 : 2, 300 + i));  // job 0: > limit
  RunParticipants(batching, kThreads, [&](int t) {
    for (int r = 0; r < 3; ++r) ASSERT_TRUE(batching.Encode(jobs[t]->Batch(true)).ok());
  });
  for (auto& j : jobs) ExpectSameAsDirect(*j, true);
  std::size_t merged = 0;
  for (const auto& c : rec->calls()) {
    const std::uint64_t bytes = c.stripes * c.block_bytes * kK;
    if (c.stripes == 7) continue;  // the single request above the limit, alone
    EXPECT_LE(bytes, limit) << c.stripes << " stripes in one call";
    merged += c.stripes > 2;
  }
  EXPECT_GT(merged, 0u) << "no call carried more than one request";
  EXPECT_LE(batching.stats().max_call_bytes, std::max<std::uint64_t>(limit, 7 * block * kK));
}

TEST(BatchingBackend, LoneCallerDoesNotWaitForTheLatencyLimit) {
  BatchingBackend batching(MakeInner("isal"), BatchLimits{64u << 20, 10000});
  Job unregistered(4096, 2, 1);
  auto t0 = Clock::now();
  ASSERT_TRUE(batching.Encode(unregistered.Batch(true)).ok());
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
  auto p = batching.Join();  // the only participant
  Job registered(4096, 2, 2);
  t0 = Clock::now();
  ASSERT_TRUE(batching.Encode(registered.Batch(true)).ok());
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
  ExpectSameAsDirect(unregistered, true);
  ExpectSameAsDirect(registered, true);
}

TEST(BatchingBackend, WaitsAtMostTheLatencyLimitForAnIdleParticipant) {
  constexpr int kLatencyMs = 300;
  BatchingBackend batching(MakeInner("isal"), BatchLimits{64u << 20, kLatencyMs});
  auto me = batching.Join();
  auto idle = batching.Join();  // registered, never submits
  Job job(4096, 2, 3);
  const auto t0 = Clock::now();
  ASSERT_TRUE(batching.Encode(job.Batch(true)).ok());
  const auto waited = Clock::now() - t0;
  EXPECT_GE(waited, std::chrono::milliseconds(kLatencyMs));
  EXPECT_LT(waited, std::chrono::milliseconds(kLatencyMs + 3000));
  ExpectSameAsDirect(job, true);
}

TEST(BatchingBackend, ParticipantLeavingEndsTheWait) {
  BatchingBackend batching(MakeInner("isal"), BatchLimits{64u << 20, 20000});
  auto me = batching.Join();
  auto other = batching.Join();
  std::thread leaver([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    other.Release();
  });
  Job job(4096, 2, 4);
  const auto t0 = Clock::now();
  ASSERT_TRUE(batching.Encode(job.Batch(true)).ok());
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10));
  leaver.join();
  ExpectSameAsDirect(job, true);
}

TEST(BatchingBackend, ZeroLatencyDisablesCoalescing) {
  auto rec = std::make_shared<RecordingBackend>(false);
  BatchingBackend batching(rec, BatchLimits{64u << 20, 0});
  std::vector<std::unique_ptr<Job>> jobs;
  for (int i = 0; i < 6; ++i) jobs.push_back(std::make_unique<Job>(4096, 2, 50 + i));
  RunParticipants(batching, 6,
                  [&](int t) { ASSERT_TRUE(batching.Encode(jobs[t]->Batch(true)).ok()); });
  EXPECT_EQ(rec->calls().size(), 6u);
  EXPECT_EQ(batching.stats().calls, 6u);
  for (auto& j : jobs) ExpectSameAsDirect(*j, true);
}

TEST(BatchingBackend, InnerErrorReachesEveryCallerOfTheGroup) {
  auto rec = std::make_shared<RecordingBackend>(true);
  BatchingBackend batching(rec, BatchLimits{64u << 20, 5000});
  constexpr int kThreads = 5;
  std::vector<std::unique_ptr<Job>> jobs;
  for (int i = 0; i < kThreads; ++i) jobs.push_back(std::make_unique<Job>(4096, 1, 70 + i));
  std::vector<Status> got(kThreads);
  RunParticipants(batching, kThreads,
                  [&](int t) { got[t] = batching.Encode(jobs[t]->Batch(true)); });
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(got[t].code(), Status::Code::kIOError) << "caller " << t << ": " << got[t].ToString();
    EXPECT_NE(got[t].ToString().find("failing on purpose"), std::string::npos);
  }
  EXPECT_LT(rec->calls().size(), static_cast<std::size_t>(kThreads));
}

TEST(BatchingBackend, DifferentBlockSizesAreNeverMixed) {
  auto rec = std::make_shared<RecordingBackend>(false);
  BatchingBackend batching(rec, BatchLimits{64u << 20, 5000});
  constexpr int kThreads = 8;
  std::vector<std::unique_ptr<Job>> jobs;
  // Even callers: 3 stripes of 4096; odd: 1 stripe of 8192.
  for (int i = 0; i < kThreads; ++i)
    jobs.push_back(std::make_unique<Job>(i % 2 ? 8192 : 4096, i % 2 ? 1 : 3, 90 + i));
  RunParticipants(batching, kThreads,
                  [&](int t) { ASSERT_TRUE(batching.Encode(jobs[t]->Batch(true)).ok()); });
  for (auto& j : jobs) ExpectSameAsDirect(*j, true);
  std::size_t small = 0, large = 0;
  for (const auto& c : rec->calls()) {
    if (c.block_bytes == 4096) {
      EXPECT_EQ(c.stripes % 3, 0u);
      small += c.stripes / 3;
    } else {
      EXPECT_EQ(c.block_bytes, 8192u);
      large += c.stripes;
    }
  }
  EXPECT_EQ(small, 4u);
  EXPECT_EQ(large, 4u);
  EXPECT_LT(rec->calls().size(), static_cast<std::size_t>(kThreads));
}

TEST(BatchingBackend, ReconstructBatchesMergeAndRebuildExactly) {
  auto inner = MakeInner("isal");
  BatchingBackend batching(inner, BatchLimits{64u << 20, 5000});
  constexpr int kThreads = 4;
  std::vector<std::unique_ptr<Job>> jobs;
  for (int i = 0; i < kThreads; ++i) {
    jobs.push_back(std::make_unique<Job>(2048, 2, 200 + i));
    ASSERT_TRUE(inner->Encode(jobs.back()->Batch(false)).ok());
  }
  // Every caller lost shards 1 and 4 (same pattern: one decode plan).
  const std::vector<int> wanted = {1, 4};
  std::vector<std::vector<std::uint8_t>> out(kThreads * 2 * 2, std::vector<std::uint8_t>(2048));
  std::vector<Status> got(kThreads);
  auto reconstruct = [&](int t) {
    std::vector<const std::uint8_t*> shards;
    std::vector<std::uint8_t*> outputs;
    for (std::size_t s = 0; s < 2; ++s) {
      for (int i = 0; i < kK + kM; ++i)
        shards.push_back(i == 1 || i == 4 ? nullptr : jobs[t]->set.at(s, i).data());
      for (std::size_t w = 0; w < wanted.size(); ++w)
        outputs.push_back(out[(t * 2 + s) * 2 + w].data());
    }
    ReconstructBatch rb;
    rb.stripes = 2;
    rb.block_bytes = 2048;
    rb.shards = shards;
    rb.wanted = wanted;
    rb.outputs = outputs;
    got[t] = batching.Reconstruct(rb);
  };
  // Callers merge when they share the codec's cached decode plan; a first
  // call builds it (racing first calls could each build their own).
  reconstruct(0);
  const auto before = batching.stats();
  RunParticipants(batching, kThreads, reconstruct);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(got[t].ok()) << got[t].ToString();
    for (std::size_t s = 0; s < 2; ++s)
      for (std::size_t w = 0; w < wanted.size(); ++w)
        EXPECT_EQ(out[(t * 2 + s) * 2 + w], jobs[t]->set.at(s, wanted[w])) << t << "/" << s;
  }
  const auto after = batching.stats();
  EXPECT_EQ(after.requests - before.requests, static_cast<std::uint64_t>(kThreads));
  EXPECT_LT(after.calls - before.calls, static_cast<std::uint64_t>(kThreads));
}

}  // namespace
}  // namespace fls
