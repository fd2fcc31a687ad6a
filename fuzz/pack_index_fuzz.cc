// libFuzzer target: ParsePackTail, the index at the end of a pack object
// (read back from storage targets). The first 8 input bytes give the claimed
// pack size; the rest is the tail.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "fls/pack.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::uint64_t pack_size = 0;
  std::memcpy(&pack_size, data, 8);
  const std::string tail(reinterpret_cast<const char*>(data + 8), size - 8);
  // Half the time make the claimed size plausible so the index is reached.
  if (pack_size & 1) pack_size = tail.size() + (pack_size >> 40);
  std::vector<fls::PackEntry> entries;
  std::uint64_t needed = 0;
  const fls::Status s =
      fls::ParsePackTail(tail, pack_size, "fls-pack/fuzz", &entries, &needed);
  if (!s.ok()) {
    FLS_FUZZ_CHECK(!s.ToString().empty());
    return 0;
  }
  for (const auto& e : entries) {
    FLS_FUZZ_CHECK(e.offset <= pack_size && e.length <= pack_size - e.offset);
  }
  return 0;
}
