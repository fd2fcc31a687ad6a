#include "rs_matrix_kernel_plain.h"

#include "fls/gf256.h"

namespace fls::kernels {
namespace {

// Output row i's coefficient for input j: the product of 1 in row i's lane of
// the (group, input) table.
uint8_t Coefficient(const MatrixApplyView& v, const uint32_t* tables, uint32_t i, uint32_t j) {
  const uint64_t table = (static_cast<uint64_t>(i / kRowsPerGroup) * v.k + j) * kTableEntries;
  return static_cast<uint8_t>(tables[table + 1] >> (8 * (i % kRowsPerGroup)));
}

}  // namespace

void ThreadMainPlain(const MatrixApplyView& v, const uint32_t* tables, uint64_t thread,
                     uint64_t threads) {
  const uint64_t columns = v.padded_block / kColumnBytes;
  for (uint64_t item = thread; item < v.stripes * columns; item += threads) {
    const uint64_t stripe = item / columns, column = item % columns;
    for (uint32_t i = 0; i < v.r; ++i) {
      uint8_t* out = v.outputs + (stripe * v.r + i) * v.padded_block + column * kColumnBytes;
      for (uint32_t b = 0; b < kColumnBytes; ++b) {
        uint8_t sum = 0;
        for (uint32_t j = 0; j < v.k; ++j) {
          const uint8_t* in =
              v.inputs + (stripe * v.k + j) * v.padded_block + column * kColumnBytes;
          sum ^= gf::Mul(Coefficient(v, tables, i, j), in[b]);
        }
        out[b] = sum;
      }
    }
  }
}

void CopyTablesPlain(uint32_t* dst, const uint32_t* src, uint32_t words, uint32_t thread,
                     uint32_t threads) {
  for (uint32_t i = 0; i < words; ++i)
    if (i % threads == thread) dst[i] = src[i];
}

}  // namespace fls::kernels
