#include "fls/batching_backend.h"

#include <algorithm>
#include <vector>

namespace fls {

BatchingBackend::BatchingBackend(std::shared_ptr<Backend> inner, BatchLimits limits)
    : Backend(inner->shared_codec()), inner_(std::move(inner)), limits_(limits) {}

BatchingBackend::Participant& BatchingBackend::Participant::operator=(Participant&& o) noexcept {
  if (this != &o) {
    Release();
    owner_ = o.owner_;
    o.owner_ = nullptr;
  }
  return *this;
}

void BatchingBackend::Participant::Release() {
  if (owner_ == nullptr) return;
  owner_->Leave();
  owner_ = nullptr;
}

BatchingBackend::Participant BatchingBackend::Join() {
  std::lock_guard<std::mutex> lock(mu_);
  ++participants_;
  return Participant(this);
}

void BatchingBackend::Leave() {
  std::lock_guard<std::mutex> lock(mu_);
  --participants_;
  // One fewer to wait for: a waiting group may now be complete.
  cv_.notify_all();
}

BatchingBackend::Stats BatchingBackend::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

Status BatchingBackend::Apply(const MatrixApply& work) { return Submit(work, {}); }

Status BatchingBackend::ApplyWithCrcs(const MatrixApply& work,
                                      std::span<std::uint32_t> block_crcs) {
  return Submit(work, block_crcs);
}

void BatchingBackend::CloseLocked(Group& g) {
  if (g.closed) return;
  g.closed = true;
  waiting_ -= g.requests.size();
  auto it = open_.find(g.key);
  if (it != open_.end() && it->second.get() == &g) open_.erase(it);
  cv_.notify_all();
}

Status BatchingBackend::Submit(const MatrixApply& work, std::span<std::uint32_t> crcs) {
  const std::uint64_t bytes = std::uint64_t{work.stripes} * work.block_bytes * work.rows->cols();
  const Key key{work.rows, work.block_bytes, !crcs.empty()};
  std::unique_lock<std::mutex> lock(mu_);
  std::shared_ptr<Group> group;
  if (auto it = open_.find(key); it != open_.end()) {
    if (it->second->bytes + bytes > limits_.max_bytes)
      CloseLocked(*it->second);  // full: its leader sends it; this request starts the next
    else
      group = it->second;
  }
  const bool leader = group == nullptr;
  if (leader) {
    group = std::make_shared<Group>();
    group->key = key;
    group->deadline = Clock::now() + std::chrono::milliseconds(limits_.max_latency_ms);
    open_[key] = group;
  }
  group->requests.push_back({work, crcs});
  group->bytes += bytes;
  ++waiting_;
  if (group->bytes >= limits_.max_bytes || limits_.max_latency_ms == 0) CloseLocked(*group);
  cv_.notify_all();

  if (!leader) {
    cv_.wait(lock, [&] { return group->done; });
    return group->status;
  }
  while (!group->closed) {
    if (waiting_ >= static_cast<std::size_t>(std::max(1, participants_)) ||
        Clock::now() >= group->deadline) {
      CloseLocked(*group);
      break;
    }
    cv_.wait_until(lock, group->deadline);
  }
  lock.unlock();
  // Closed: nobody else touches the request list now.
  const Status s = RunGroup(*group);
  lock.lock();
  group->status = s;
  group->done = true;
  std::uint64_t stripes = 0;
  for (const Request& r : group->requests) stripes += r.work.stripes;
  ++stats_.calls;
  stats_.requests += group->requests.size();
  stats_.stripes += stripes;
  stats_.bytes += group->bytes;
  stats_.max_call_bytes = std::max(stats_.max_call_bytes, group->bytes);
  stats_.max_call_requests =
      std::max<std::uint64_t>(stats_.max_call_requests, group->requests.size());
  cv_.notify_all();
  return s;
}

Status BatchingBackend::RunGroup(Group& g) {
  const bool with_crcs = std::get<2>(g.key);
  if (g.requests.size() == 1) {
    const Request& r = g.requests[0];
    return with_crcs ? inner_->ApplyWithCrcs(r.work, r.crcs) : inner_->Apply(r.work);
  }
  const std::size_t k = g.requests[0].work.rows->cols(), rows = g.requests[0].work.rows->rows();
  std::size_t stripes = 0;
  for (const Request& r : g.requests) stripes += r.work.stripes;
  std::vector<const std::uint8_t*> inputs;
  std::vector<std::uint8_t*> outputs;
  std::vector<std::uint32_t> crcs;
  inputs.reserve(stripes * k);
  outputs.reserve(stripes * rows);
  for (const Request& r : g.requests) {
    inputs.insert(inputs.end(), r.work.inputs, r.work.inputs + r.work.stripes * k);
    outputs.insert(outputs.end(), r.work.outputs, r.work.outputs + r.work.stripes * rows);
  }
  MatrixApply merged;
  merged.rows = g.requests[0].work.rows;
  merged.stripes = stripes;
  merged.block_bytes = g.requests[0].work.block_bytes;
  merged.inputs = inputs.data();
  merged.outputs = outputs.data();
  if (!with_crcs) return inner_->Apply(merged);
  crcs.resize(stripes * (k + rows));
  FLS_RETURN_IF_ERROR(inner_->ApplyWithCrcs(merged, crcs));
  std::size_t at = 0;
  for (const Request& r : g.requests) {
    std::copy_n(crcs.begin() + at, r.crcs.size(), r.crcs.begin());
    at += r.crcs.size();
  }
  return Status::Ok();
}

}  // namespace fls
