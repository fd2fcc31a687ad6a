// PlanRebalance and UsageSpread (fls/rebalance.h): the pure part.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "fls/rebalance.h"

namespace fls {

double UsageSpread(const std::vector<std::uint64_t>& usage, const std::vector<bool>& usable) {
  double total = 0;
  int n = 0;
  for (std::size_t t = 0; t < usage.size(); ++t) {
    if (!usable[t]) continue;
    total += static_cast<double>(usage[t]);
    ++n;
  }
  if (n == 0 || total == 0) return 0;
  const double mean = total / n;
  double worst = 0;
  for (std::size_t t = 0; t < usage.size(); ++t)
    if (usable[t]) worst = std::max(worst, std::fabs(static_cast<double>(usage[t]) - mean) / mean);
  return worst;
}

namespace {

FaultTolerance ToleranceOn(const std::vector<Target>& targets, const std::vector<int>& placement,
                           int m) {
  std::vector<std::string> paths, domains;
  for (int t : placement) {
    paths.push_back(targets[t].path);
    domains.push_back(targets[t].domain);
  }
  return ToleranceOf(paths, domains, m);
}

}  // namespace

std::vector<PlannedMove> PlanRebalance(const std::vector<Target>& targets,
                                       const std::vector<bool>& usable,
                                       const std::vector<std::uint64_t>& free,
                                       const std::vector<PlanObject>& objects, double tolerance,
                                       int max_moves) {
  const std::size_t nt = targets.size();
  std::vector<std::uint64_t> usage(nt, 0), room = free;
  std::vector<std::vector<int>> placement;
  std::vector<FaultTolerance> floor;  // no move may go below the starting tolerance
  std::vector<int> moved(objects.size(), 0);
  // Per target: the (object, chunk) pairs on it.
  std::vector<std::vector<std::pair<int, int>>> on(nt);
  for (std::size_t o = 0; o < objects.size(); ++o) {
    const PlanObject& ob = objects[o];
    placement.push_back(ob.chunk_target);
    floor.push_back(ToleranceOn(targets, ob.chunk_target, ob.m));
    for (std::size_t c = 0; c < ob.chunk_target.size(); ++c) {
      usage[ob.chunk_target[c]] += ob.chunk_bytes[c];
      on[ob.chunk_target[c]].push_back({static_cast<int>(o), static_cast<int>(c)});
    }
  }
  std::vector<PlannedMove> plan;
  int round = 0, in_round = 0;
  std::vector<int> order(nt);
  std::iota(order.begin(), order.end(), 0);
  while ((max_moves <= 0 || static_cast<int>(plan.size()) < max_moves) &&
         UsageSpread(usage, usable) > tolerance) {
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return usage[a] > usage[b]; });
    bool found = false;
    // Most used source first, least used destination first: the first pair
    // with a movable chunk gets one move; then the order is looked at again.
    for (std::size_t si = 0; si < nt && !found; ++si) {
      const int src = order[si];
      if (!usable[src]) continue;
      for (std::size_t di = nt; di-- > si + 1 && !found;) {
        const int dst = order[di];
        if (!usable[dst] || usage[dst] >= usage[src]) continue;
        const std::uint64_t gap = usage[src] - usage[dst];
        // Candidates that shrink the gap (bytes < gap), nearest to half the
        // gap first: that move evens the pair out best.
        std::vector<std::pair<std::uint64_t, std::size_t>> cand;
        for (std::size_t x = 0; x < on[src].size(); ++x) {
          const auto [o, c] = on[src][x];
          const PlanObject& ob = objects[o];
          const std::uint64_t b = ob.chunk_bytes[c];
          if (!ob.movable || moved[o] >= ob.m || b == 0 || b >= gap || b > room[dst]) continue;
          if (std::find(placement[o].begin(), placement[o].end(), dst) != placement[o].end())
            continue;
          const std::uint64_t half = gap / 2;
          cand.push_back({b > half ? b - half : half - b, x});
        }
        std::sort(cand.begin(), cand.end());
        for (const auto& [score, x] : cand) {
          const auto [o, c] = on[src][x];
          std::vector<int> next = placement[o];
          next[c] = dst;
          const FaultTolerance after = ToleranceOn(targets, next, objects[o].m);
          if (after.targets < floor[o].targets || after.domains < floor[o].domains) continue;
          const std::uint64_t b = objects[o].chunk_bytes[c];
          placement[o] = std::move(next);
          usage[src] -= b;
          usage[dst] += b;
          room[dst] -= b;
          ++moved[o];
          on[src].erase(on[src].begin() + static_cast<std::ptrdiff_t>(x));
          on[dst].push_back({o, c});
          plan.push_back({o, c, src, dst, round});
          ++in_round;
          found = true;
          break;
        }
      }
    }
    if (found) continue;
    // Every object has moved m chunks in this round, or cannot move more:
    // the next round (the next manifest generation) may move them again.
    if (in_round == 0) break;
    ++round;
    in_round = 0;
    std::fill(moved.begin(), moved.end(), 0);
  }
  return plan;
}

}  // namespace fls
