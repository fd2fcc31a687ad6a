// Shared helpers of the libFuzzer targets: splitting one fuzz input into
// frames and checking invariants loudly (a violated invariant aborts, which
// libFuzzer reports as a crash with the input that caused it).
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace fls::fuzz {

// Splits `data` into frames at each "\n--\n" separator, so that seeds stay
// readable text files while the fuzzer can still add, drop and grow frames.
inline std::vector<std::string> SplitFrames(const std::uint8_t* data, std::size_t n) {
  static const std::string kSep = "\n--\n";
  const std::string all(reinterpret_cast<const char*>(data), n);
  std::vector<std::string> frames;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = all.find(kSep, start);
    if (at == std::string::npos) {
      frames.push_back(all.substr(start));
      return frames;
    }
    frames.push_back(all.substr(start, at - start));
    start = at + kSep.size();
  }
}

#define FLS_FUZZ_CHECK(cond)                                                            \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

}  // namespace fls::fuzz
