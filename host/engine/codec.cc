#include "fls/codec.h"

#include <algorithm>
#include <utility>

namespace fls {

Status ValidateCodecShape(int k, int m) {
  if (k < 1) return Status::InvalidArgument("k must be at least 1 (got " + std::to_string(k) + ")");
  if (m < 1) return Status::InvalidArgument("m must be at least 1 (got " + std::to_string(m) + ")");
  if (k + m > kMaxShards)
    return Status::InvalidArgument("k + m must be at most 256 (got " + std::to_string(k) + " + " +
                                   std::to_string(m) + " = " + std::to_string(k + m) + ")");
  return Status::Ok();
}

Status Codec::Create(const CodecParams& params, std::unique_ptr<Codec>* codec,
                     std::size_t plan_cache_capacity) {
  GfMatrix generator;
  FLS_RETURN_IF_ERROR(MakeGenerator(params.matrix, params.k, params.m, &generator));
  codec->reset(
      new Codec(params, std::move(generator), std::max<std::size_t>(1, plan_cache_capacity)));
  return Status::Ok();
}

Codec::Codec(const CodecParams& params, GfMatrix generator, std::size_t capacity)
    : params_(params), generator_(std::move(generator)), capacity_(capacity) {
  std::vector<int> parity(static_cast<std::size_t>(params_.m));
  for (int p = 0; p < params_.m; ++p) parity[p] = params_.k + p;
  parity_rows_ = generator_.SelectRows(parity);
}

Status Codec::PlanFor(const std::vector<bool>& present, std::span<const int> wanted,
                      std::shared_ptr<const DecodePlan>* plan) const {
  const int n = shards();
  if (present.size() != static_cast<std::size_t>(n))
    return Status::InvalidArgument("presence list has " + std::to_string(present.size()) +
                                   " entries, expected k + m = " + std::to_string(n));
  if (wanted.empty()) return Status::InvalidArgument("no shard wanted");
  std::vector<bool> seen(static_cast<std::size_t>(n), false);
  for (int w : wanted) {
    if (w < 0 || w >= n)
      return Status::InvalidArgument("wanted shard " + std::to_string(w) + " is out of range [0, " +
                                     std::to_string(n) + ")");
    if (seen[w]) return Status::InvalidArgument("shard " + std::to_string(w) + " wanted twice");
    seen[w] = true;
  }
  std::vector<int> sources;
  sources.reserve(static_cast<std::size_t>(k()));
  int available = 0;
  for (int i = 0; i < n; ++i)
    if (present[i]) {
      ++available;
      if (static_cast<int>(sources.size()) < k()) sources.push_back(i);
    }
  if (available < k())
    return Status::Unrecoverable("only " + std::to_string(available) + " of " + std::to_string(n) +
                                 " shards present, at least k = " + std::to_string(k()) +
                                 " are needed");

  std::string key;
  key.reserve(sources.size() + 1 + wanted.size());
  for (int s : sources) key.push_back(static_cast<char>(s));
  key.push_back('|');  // sources are exactly k entries, so the key is unambiguous anyway
  for (int w : wanted) key.push_back(static_cast<char>(w));

  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      *plan = it->second->second;
      return Status::Ok();
    }
  }
  std::shared_ptr<const DecodePlan> built;
  FLS_RETURN_IF_ERROR(
      BuildPlan(std::move(sources), std::vector<int>(wanted.begin(), wanted.end()), &built));
  std::lock_guard<std::mutex> lock(mu_);
  if (index_.find(key) == index_.end()) {
    lru_.emplace_front(key, built);
    index_[key] = lru_.begin();
    if (lru_.size() > capacity_) {
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }
  *plan = std::move(built);
  return Status::Ok();
}

Status Codec::BuildPlan(std::vector<int> sources, std::vector<int> wanted,
                        std::shared_ptr<const DecodePlan>* plan) const {
  GfMatrix inverse;
  Status s = generator_.SelectRows(sources).Invert(&inverse);
  if (!s.ok())  // cannot happen for an MDS generator: a bug, not a user error
    return Status::Internal("generator rows of the present shards are singular: " + s.message());
  auto out = std::make_shared<DecodePlan>();
  FLS_RETURN_IF_ERROR(generator_.SelectRows(wanted).Multiply(inverse, &out->rows));
  out->sources = std::move(sources);
  out->wanted = std::move(wanted);
  *plan = std::move(out);
  return Status::Ok();
}

std::size_t Codec::cached_plans() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

}  // namespace fls
