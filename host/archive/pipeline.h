// StagePipeline: runs a fixed set of reusable slots (stripe batches) through
// a source and a chain of stages, one thread per stage, in order. Memory is
// bounded by the slots; stages overlap on different slots.
//
//   free slots -> source -> stage 0 -> stage 1 -> ... -> free slots
//
// The first error from any stage stops every stage and is returned.
// Thread-safety: Run is called once per pipeline; stage functions each run on
// their own single thread, so a stage may keep state without locks.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "fls/status.h"

namespace fls {

template <typename Slot>
class StagePipeline {
 public:
  // Fills a slot; sets *produced = false (and returns OK) at end of input.
  using SourceFn = std::function<Status(Slot&, bool* produced)>;
  using StageFn = std::function<Status(Slot&)>;

  static Status Run(std::vector<std::unique_ptr<Slot>>& slots, const SourceFn& source,
                    const std::vector<StageFn>& stages) {
    StagePipeline p(stages.size() + 1);
    for (auto& s : slots) p.queues_[stages.size()].items.push_back(s.get());  // free list
    std::vector<std::thread> threads;
    threads.emplace_back([&] { p.RunSource(source, stages.size()); });
    for (std::size_t i = 0; i < stages.size(); ++i)
      threads.emplace_back([&, i] { p.RunStage(stages[i], i, stages.size()); });
    for (auto& t : threads) t.join();
    return p.error_;
  }

 private:
  struct Queue {
    std::deque<Slot*> items;
    bool closed = false;  // no more items will come
  };
  explicit StagePipeline(std::size_t queues) : queues_(queues) {}

  // Queue i feeds stage i; the last queue is the free list.
  bool Pop(std::size_t q, Slot** slot) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return failed_ || !queues_[q].items.empty() || queues_[q].closed; });
    if (failed_ || queues_[q].items.empty()) return false;
    *slot = queues_[q].items.front();
    queues_[q].items.pop_front();
    return true;
  }
  void Push(std::size_t q, Slot* slot) {
    std::lock_guard<std::mutex> lock(mu_);
    queues_[q].items.push_back(slot);
    cv_.notify_all();
  }
  void Close(std::size_t q) {
    std::lock_guard<std::mutex> lock(mu_);
    queues_[q].closed = true;
    cv_.notify_all();
  }
  void Fail(const Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failed_) error_ = s;
    failed_ = true;
    cv_.notify_all();
  }
  void RunSource(const SourceFn& source, std::size_t free_q) {
    const std::size_t first = free_q == 0 ? free_q : 0;
    Slot* slot = nullptr;
    while (Pop(free_q, &slot)) {
      bool produced = false;
      Status s = source(*slot, &produced);
      if (!s.ok()) {
        Fail(s);
        break;
      }
      if (!produced) {
        Push(free_q, slot);
        break;
      }
      Push(first, slot);
    }
    if (free_q != 0) Close(0);
  }
  void RunStage(const StageFn& fn, std::size_t i, std::size_t stages) {
    Slot* slot = nullptr;
    while (Pop(i, &slot)) {
      Status s = fn(*slot);
      if (!s.ok()) {
        Fail(s);
        break;
      }
      Push(i + 1 == stages ? stages : i + 1, slot);
    }
    if (i + 1 < stages) Close(i + 1);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Queue> queues_;
  bool failed_ = false;
  Status error_;
};

}  // namespace fls
