// BatchingBackend: a Backend decorator that coalesces the batches of
// concurrent callers into one call of an inner backend, so that the stripes
// of many files go to the device in one launch (design.md section 4).
//
// Every Backend batch is stripe-major pointer arrays (fls/backend.h), so two
// batches that apply the same matrix to blocks of the same size concatenate
// trivially: inputs, outputs and block CRCs of request 2 follow those of
// request 1. Requests are grouped by (matrix, block size, CRCs wanted); encode
// always shares the codec's parity rows, and reconstruct stripes with the
// same erasure pattern share the codec's cached decode plan, so both merge.
//
// When a group goes to the inner backend:
//   - at once when every registered participant (see Join) is already
//     waiting in some group: nobody else can add to it, waiting gains nothing.
//     With no participant registered a caller counts as alone, so a lone
//     caller never waits;
//   - when its input bytes reach limits.max_bytes (a request that would push
//     it past the limit starts a new group instead; a single request larger
//     than the limit goes alone);
//   - when limits.max_latency_ms have passed since its first request.
//     max_latency_ms = 0 disables coalescing: every request goes alone.
// The caller whose request opened a group runs the inner call on its own
// thread; every caller of the group gets the same Status (an error reaches
// them all) once the inner call has returned.
//
// Thread-safety: every method may be called from any thread concurrently;
// that is the point. The inner backend must be thread-safe (all are): groups
// of different keys, and successive groups, run on it concurrently.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "fls/backend.h"

namespace fls {

struct BatchLimits {
  std::uint64_t max_bytes = 64u << 20;  // input bytes of one inner call
  int max_latency_ms = 20;              // longest wait for more requests; 0: none
};

class BatchingBackend : public Backend {
 public:
  BatchingBackend(std::shared_ptr<Backend> inner, BatchLimits limits);

  std::string_view name() const override { return inner_->name(); }
  int threads() const override { return inner_->threads(); }
  const BatchLimits& limits() const { return limits_; }

  // A caller that will submit batches soon (an archive pipeline that has
  // not finished encoding). While participants are registered, a group waits
  // (up to the latency limit) until all of them have submitted. Release()
  // or destruction unregisters; both are idempotent.
  class Participant {
   public:
    Participant() = default;
    explicit Participant(BatchingBackend* owner) : owner_(owner) {}
    Participant(Participant&& o) noexcept : owner_(o.owner_) { o.owner_ = nullptr; }
    Participant& operator=(Participant&& o) noexcept;
    ~Participant() { Release(); }
    void Release();

   private:
    BatchingBackend* owner_ = nullptr;
  };
  Participant Join();

  // Counters since construction. requests: calls made to this backend's
  // Apply (an encode batch is one request; a reconstruct batch is one per
  // erasure pattern); calls: calls made to the inner backend.
  struct Stats {
    std::uint64_t calls = 0;
    std::uint64_t requests = 0;
    std::uint64_t stripes = 0;
    std::uint64_t bytes = 0;  // input bytes
    std::uint64_t max_call_bytes = 0;
    std::uint64_t max_call_requests = 0;
  };
  Stats stats() const;

 protected:
  Status Apply(const MatrixApply& work) override;
  Status ApplyWithCrcs(const MatrixApply& work, std::span<std::uint32_t> block_crcs) override;

 private:
  using Clock = std::chrono::steady_clock;
  using Key = std::tuple<const GfMatrix*, std::size_t, bool>;
  struct Request {
    MatrixApply work;
    std::span<std::uint32_t> crcs;
  };
  struct Group {
    Key key;
    std::vector<Request> requests;
    std::uint64_t bytes = 0;
    Clock::time_point deadline;
    bool closed = false;  // no more requests join; its leader runs it
    bool done = false;
    Status status;
  };

  Status Submit(const MatrixApply& work, std::span<std::uint32_t> crcs);
  void CloseLocked(Group& g);
  Status RunGroup(Group& g);
  void Leave();

  std::shared_ptr<Backend> inner_;
  BatchLimits limits_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<Key, std::shared_ptr<Group>> open_;
  std::size_t waiting_ = 0;  // requests in open groups
  int participants_ = 0;
  Stats stats_;
};

}  // namespace fls
