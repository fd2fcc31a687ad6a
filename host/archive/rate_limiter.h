// RateLimiter: paces reads to a byte rate (a repair sweep's --rate). Each
// charge moves a virtual clock forward by bytes / rate, and the caller
// sleeps while that clock is ahead of real time; rate 0 means no limit.
// Thread-safety: Charge may be called from several threads at once; they
// share one budget.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>

namespace fls::internal {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RateLimiter(std::uint64_t rate) : rate_(rate) {}
  void Charge(std::uint64_t bytes) {
    if (rate_ == 0 || bytes == 0) return;
    Clock::time_point until;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const auto now = Clock::now();
      if (next_ < now) next_ = now;
      next_ += std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(static_cast<double>(bytes) / rate_));
      until = next_;
    }
    std::this_thread::sleep_until(until);
  }

 private:
  std::uint64_t rate_;
  std::mutex mu_;
  Clock::time_point next_{};
};

}  // namespace fls::internal
