// Codec: the Reed-Solomon code of one (k, m, matrix kind): its generator and
// the decode rows for any pattern of lost shards.
//
// Shards are numbered 0 .. k+m-1: 0 .. k-1 are data, k .. k+m-1 parity.
//
//   data:    D0 D1 ... D(k-1)          one block each, B bytes
//   parity:  Pp = sum_j G[k+p][j] * Dj  (GF(2^8), byte by byte, p = 0 .. m-1)
//
// Any k shards determine the rest. To rebuild shard w from the k present shards
// S = (s0 < s1 < ... < s(k-1)): w = sum_j R[w][j] * shard(sj) with
// R = G[w] * inverse(G[S]). A DecodePlan holds S, the wanted shards and R; the
// codec caches plans per pattern in a bounded LRU cache, because inverting a
// k x k matrix per stripe would cost more than the arithmetic of small blocks.
//
// Thread-safety: all methods are safe to call concurrently; returned plans
// are immutable and shared.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "fls/matrix.h"
#include "fls/status.h"

namespace fls {

inline constexpr int kMaxShards = 256;  // k + m <= 256: Cauchy needs distinct i ^ j < 256

struct CodecParams {
  int k = 10;
  int m = 4;
  MatrixKind matrix = MatrixKind::kCauchy;
};

// InvalidArgument naming the bad value unless k >= 1, m >= 1, k + m <= 256.
Status ValidateCodecShape(int k, int m);

struct DecodePlan {
  std::vector<int> sources;  // the k shards read, ascending (data shards first when present)
  std::vector<int> wanted;   // the shards produced, in output order
  GfMatrix rows;             // wanted.size() x k coefficients over `sources`
};

class Codec {
 public:
  static constexpr std::size_t kDefaultPlanCacheCapacity = 4096;

  // InvalidArgument for a bad shape or kind.
  static Status Create(const CodecParams& params, std::unique_ptr<Codec>* codec,
                       std::size_t plan_cache_capacity = kDefaultPlanCacheCapacity);

  const CodecParams& params() const { return params_; }
  int k() const { return params_.k; }
  int m() const { return params_.m; }
  int shards() const { return params_.k + params_.m; }
  const GfMatrix& generator() const { return generator_; }
  // The m x k parity rows of the generator (rows k .. k+m-1).
  const GfMatrix& parity_rows() const { return parity_rows_; }

  // The plan that rebuilds `wanted` from the shards marked present.
  // `present` has k + m entries. Unrecoverable when fewer than k are present;
  // InvalidArgument for a wanted index out of range or repeated, or no wanted shard.
  Status PlanFor(const std::vector<bool>& present, std::span<const int> wanted,
                 std::shared_ptr<const DecodePlan>* plan) const;

  std::size_t cached_plans() const;

 private:
  Codec(const CodecParams& params, GfMatrix generator, std::size_t capacity);
  Status BuildPlan(std::vector<int> sources, std::vector<int> wanted,
                   std::shared_ptr<const DecodePlan>* plan) const;

  CodecParams params_;
  GfMatrix generator_;
  GfMatrix parity_rows_;
  std::size_t capacity_;

  mutable std::mutex mu_;
  using LruList = std::list<std::pair<std::string, std::shared_ptr<const DecodePlan>>>;
  mutable LruList lru_;  // most recent first
  mutable std::unordered_map<std::string, LruList::iterator> index_;
};

}  // namespace fls
