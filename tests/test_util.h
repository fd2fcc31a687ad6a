// Helpers shared by the test suites: deterministic random bytes, block sets
// laid out as the backend interface expects, and subset enumeration.
// Thread-safety: plain values; use one per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

namespace fls::testing {

inline std::vector<std::uint8_t> RandomBytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint8_t> out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

// Calls fn on every `choose`-element subset of [0, n), in lexicographic order.
inline void ForEachSubset(int n, int choose,
                          const std::function<void(const std::vector<int>&)>& fn) {
  if (choose > n) return;
  std::vector<int> idx(choose);
  for (int i = 0; i < choose; ++i) idx[i] = i;
  for (;;) {
    fn(idx);
    int i = choose - 1;
    while (i >= 0 && idx[i] == n - choose + i) --i;
    if (i < 0) return;
    ++idx[i];
    for (int j = i + 1; j < choose; ++j) idx[j] = idx[j - 1] + 1;
  }
}

// `stripes` stripes of k data and m parity blocks of `block` bytes, each block
// its own allocation (so tools like ASan see overruns), data random.
struct StripeSet {
  int k, m;
  std::size_t block, stripes;
  std::vector<std::vector<std::uint8_t>> blocks;  // [s*(k+m) + i]

  StripeSet(int k_, int m_, std::size_t block_, std::size_t stripes_, std::uint64_t seed)
      : k(k_), m(m_), block(block_), stripes(stripes_) {
    for (std::size_t s = 0; s < stripes; ++s)
      for (int i = 0; i < k + m; ++i)
        blocks.push_back(i < k ? RandomBytes(block, seed * 7919 + s * 257 + i)
                               : std::vector<std::uint8_t>(block, 0));
  }
  std::vector<std::uint8_t>& at(std::size_t s, int i) { return blocks[s * (k + m) + i]; }
  std::vector<const std::uint8_t*> DataPtrs() {
    std::vector<const std::uint8_t*> p;
    for (std::size_t s = 0; s < stripes; ++s)
      for (int j = 0; j < k; ++j) p.push_back(at(s, j).data());
    return p;
  }
  std::vector<std::uint8_t*> ParityPtrs() {
    std::vector<std::uint8_t*> p;
    for (std::size_t s = 0; s < stripes; ++s)
      for (int j = 0; j < m; ++j) p.push_back(at(s, k + j).data());
    return p;
  }
};

}  // namespace fls::testing
