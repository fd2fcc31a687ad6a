#include "fls/thread_pool.h"

#include <algorithm>

namespace fls {

struct ThreadPool::Job {
  const std::function<void(std::size_t)>* fn;
  std::size_t count;
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> finished{0};
  std::mutex mu;
  std::condition_variable done;

  // Runs tasks until none is left to claim.
  void Drain() {
    for (std::size_t i; (i = next.fetch_add(1)) < count;) {
      (*fn)(i);
      if (finished.fetch_add(1) + 1 == count) {
        std::lock_guard<std::mutex> lock(mu);
        done.notify_all();
      }
    }
  }
};

int ThreadPool::HardwareThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

ThreadPool::ThreadPool(int threads) : threads_(threads > 0 ? threads : HardwareThreads()) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::WorkerLoop() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job->Drain();
  }
}

void ThreadPool::Run(std::size_t tasks, const std::function<void(std::size_t)>& fn) {
  if (tasks == 0) return;
  if (workers_.empty() || tasks == 1) {
    for (std::size_t i = 0; i < tasks; ++i) fn(i);
    return;
  }
  auto job = std::make_shared<Job>();
  job->fn = &fn;
  job->count = tasks;
  const std::size_t helpers = std::min(workers_.size(), tasks - 1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::size_t i = 0; i < helpers; ++i) queue_.push_back(job);
  }
  if (helpers == 1)
    cv_.notify_one();
  else
    cv_.notify_all();
  job->Drain();
  std::unique_lock<std::mutex> lock(job->mu);
  job->done.wait(lock, [&] { return job->finished.load() == job->count; });
}

}  // namespace fls

namespace fls {

void ForEachStripePiece(ThreadPool& pool, std::size_t stripes, std::size_t block_bytes,
                        const std::function<void(std::size_t, std::size_t, std::size_t)>& fn) {
  // Enough pieces to keep every thread busy (4 per thread evens out stragglers),
  // but none smaller than 16 KiB, where hand-off would cost more than the work;
  // none larger than 256 MiB so lengths fit every backend's int-sized length.
  constexpr std::size_t kMinPiece = 16 * 1024, kMaxPiece = 256u << 20;
  const std::size_t threads = static_cast<std::size_t>(pool.threads());
  std::size_t per_stripe = 1;
  if (threads > 1 && stripes < threads * 4)
    per_stripe = std::max<std::size_t>(
        1, std::min((threads * 4 + stripes - 1) / stripes, block_bytes / kMinPiece));
  per_stripe = std::max(per_stripe, (block_bytes + kMaxPiece - 1) / kMaxPiece);
  std::size_t piece = (block_bytes + per_stripe - 1) / per_stripe;
  piece = (piece + 63) / 64 * 64;
  per_stripe = (block_bytes + piece - 1) / piece;
  pool.Run(stripes * per_stripe, [&](std::size_t task) {
    const std::size_t stripe = task / per_stripe;
    const std::size_t offset = (task % per_stripe) * piece;
    fn(stripe, offset, std::min(piece, block_bytes - offset));
  });
}

}  // namespace fls
