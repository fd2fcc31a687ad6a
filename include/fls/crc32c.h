// CRC32C (Castagnoli, the iSCSI CRC) through ISA-L's hardware-accelerated
// crc32_iscsi. Standard form: pre- and post-inverted, so Crc32c("123456789")
// is 0xE3069283, and calls chain: Crc32c(b, n2, Crc32c(a, n1)) equals the CRC
// of a followed by b. Thread-safety: pure function.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fls {

std::uint32_t Crc32c(const void* data, std::size_t len, std::uint32_t crc_so_far = 0);

// Combines CRCs of adjacent pieces without reading them again: for pieces of
// `len` bytes, Combine(Crc32c(A), Crc32c(B)) == Crc32c(A || B) when |B| = len
// (zlib's crc32_combine, for the Castagnoli polynomial). Building one costs
// a few thousand operations; Combine is 32 shifts and XORs.
class Crc32cCombiner {
 public:
  explicit Crc32cCombiner(std::uint64_t len);
  std::uint32_t Combine(std::uint32_t crc_a, std::uint32_t crc_b) const {
    std::uint32_t r = 0;
    for (int bit = 0; crc_a != 0; ++bit, crc_a >>= 1)
      if (crc_a & 1) r ^= column_[bit];
    return r ^ crc_b;
  }

 private:
  std::uint32_t column_[32];  // the image of each bit after `len` zero bytes
};

}  // namespace fls
