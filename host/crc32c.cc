#include "fls/crc32c.h"

#include <isa-l/crc.h>

#include <climits>

namespace fls {

std::uint32_t Crc32c(const void* data, std::size_t len, std::uint32_t crc_so_far) {
  // crc32_iscsi neither pre- nor post-inverts, and takes an int length.
  std::uint32_t crc = ~crc_so_far;
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  while (len > 0) {
    const std::size_t piece = len > (1u << 30) ? (1u << 30) : len;
    crc = crc32_iscsi(p, static_cast<int>(piece), crc);
    p += piece;
    len -= piece;
  }
  return ~crc;
}

}  // namespace fls
