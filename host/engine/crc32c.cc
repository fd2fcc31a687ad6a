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

namespace {

std::uint32_t Gf2Times(const std::uint32_t* mat, std::uint32_t vec) {
  std::uint32_t sum = 0;
  for (; vec; vec >>= 1, ++mat)
    if (vec & 1) sum ^= *mat;
  return sum;
}

void Gf2Square(std::uint32_t* square, const std::uint32_t* mat) {
  for (int n = 0; n < 32; ++n) square[n] = Gf2Times(mat, mat[n]);
}

}  // namespace

// zlib's crc32_combine operator, applied to the 32 basis vectors at once:
// column_[bit] is bit `bit` of a CRC advanced over `len` zero bytes.
Crc32cCombiner::Crc32cCombiner(std::uint64_t len) {
  for (int bit = 0; bit < 32; ++bit) column_[bit] = 1u << bit;
  auto apply = [this](const std::uint32_t* op) {
    for (std::uint32_t& c : column_) c = Gf2Times(op, c);
  };
  std::uint32_t even[32], odd[32];
  odd[0] = 0x82F63B78u;  // reflected Castagnoli polynomial
  std::uint32_t row = 1;
  for (int n = 1; n < 32; ++n, row <<= 1) odd[n] = row;
  Gf2Square(even, odd);  // two zero bits
  Gf2Square(odd, even);  // four zero bits
  while (len != 0) {
    Gf2Square(even, odd);
    if (len & 1) apply(even);
    len >>= 1;
    if (len == 0) break;
    Gf2Square(odd, even);
    if (len & 1) apply(odd);
    len >>= 1;
  }
}

}  // namespace fls
