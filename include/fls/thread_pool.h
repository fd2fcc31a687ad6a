// ThreadPool: a fixed set of worker threads that run index-parallel loops.
// Run(n, fn) calls fn(0) .. fn(n-1), spread over the workers and the calling
// thread, and returns when all calls have returned. A pool of 1 thread runs
// everything on the caller, with no hand-off.
// Thread-safety: Run may be called from several threads at once; each call
// waits only for its own work.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace fls {

class ThreadPool {
 public:
  // `threads` counts the caller too; 0 means one per hardware thread.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }
  void Run(std::size_t tasks, const std::function<void(std::size_t)>& fn);

  static int HardwareThreads();

 private:
  struct Job;
  void WorkerLoop();

  int threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace fls

namespace fls {

// Splits `stripes` blocks of `block_bytes` into pieces for `pool` and calls
// fn(stripe, offset, length) for each, in parallel. Pieces are 64-byte aligned
// column ranges of one stripe, so each piece touches k inputs and r outputs at
// the same offsets; a 1-thread pool gets one piece per stripe.
void ForEachStripePiece(ThreadPool& pool, std::size_t stripes, std::size_t block_bytes,
                        const std::function<void(std::size_t, std::size_t, std::size_t)>& fn);

}  // namespace fls
