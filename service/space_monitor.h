// SpaceMonitor: the store's space totals (fls/space_report.h) for the
// broker's STATS, computed on a thread of its own so that a STATS request
// never walks the store. A computation runs at start and again after each
// Request (the broker asks after every job that may have changed the
// store), at most once every `interval`; STATS serves the last result with
// its age.
// Thread-safety: every method may be called from any thread; the destructor
// stops the thread (waiting for a computation under way to end).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "fls/store.h"

namespace fls::service {

class SpaceMonitor {
 public:
  SpaceMonitor(std::vector<Target> targets, std::chrono::milliseconds interval);
  ~SpaceMonitor();
  SpaceMonitor(const SpaceMonitor&) = delete;
  SpaceMonitor& operator=(const SpaceMonitor&) = delete;

  // Starts the thread; the first computation begins at once.
  void Start();
  // Asks for a new computation (coalesced; not before `interval` after the
  // previous one began).
  void Request();
  // STATS's "space": {"state": "pending" | "ready" | "failed", "computing",
  // "interval_seconds", and once one ended: "age_seconds", "took_seconds",
  // the totals of SpaceReportJson, or "error"}.
  nlohmann::json Snapshot() const;

 private:
  using Clock = std::chrono::steady_clock;
  void Loop();
  const std::vector<Target> targets_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, requested_ = true, computing_ = false;
  bool have_result_ = false;
  nlohmann::json result_;  // totals, or {"error": ...}
  Clock::time_point finished_, last_start_;
  double took_seconds_ = 0;
  std::thread thread_;
};

}  // namespace fls::service
