// The plain twins of the GFNI kernels (gfni_kernels.h): the same entry points
// in ordinary C++, one byte at a time, straight from the definitions of the
// instructions the optimized bodies use. Compiled without any -m flag, so they
// run on every CPU; tests/gfni_kernel_twin_test.cc holds each optimized entry
// to its twin byte for byte, and each twin to the reference codec.
#include <cstring>

#include "gfni_kernels.h"

namespace fls::gfni {
namespace {

// GF2P8AFFINEQB with immediate 0, on one byte: bit i of the result is the
// parity of (byte 7 - i of the operand) AND x (Intel SDM, "GF2P8AFFINEQB").
std::uint8_t AffineByte(std::uint64_t operand, std::uint8_t x) {
  std::uint8_t result = 0;
  for (int i = 0; i < 8; ++i) {
    const unsigned row = static_cast<unsigned>(operand >> (8 * (7 - i))) & 0xffu;
    result |= static_cast<std::uint8_t>((__builtin_popcount(row & x) & 1) << i);
  }
  return result;
}

// A 64-bit word of a fold state, little-endian (how a 512-bit register is
// laid out in memory).
std::uint64_t LoadWord(const std::uint8_t* p) {
  std::uint64_t w = 0;
  for (int b = 7; b >= 0; --b) w = (w << 8) | p[b];
  return w;
}

void StoreWord(std::uint8_t* p, std::uint64_t w) {
  for (int b = 0; b < 8; ++b) p[b] = static_cast<std::uint8_t>(w >> (8 * b));
}

// Carry-less product of two 64-bit polynomials (PCLMULQDQ): 128 bits.
void CarrylessMultiply(std::uint64_t a, std::uint64_t b, std::uint64_t* lo, std::uint64_t* hi) {
  *lo = 0;
  *hi = 0;
  for (int i = 0; i < 64; ++i) {
    if (((b >> i) & 1) == 0) continue;
    *lo ^= a << i;
    if (i > 0) *hi ^= a >> (64 - i);
  }
}

// One 64-byte chunk into a block's fold state. The first chunk of a block
// starts the state, with the CRC preset 0xFFFFFFFF xored into its first four
// bytes; every later one is added to the state multiplied by x^512, which
// each 128-bit lane computes as lo x (x^575 mod P) + hi x (x^511 mod P)
// (bit-reflected operands, as VPCLMULQDQ takes them).
void FoldChunk(const CrcFoldConstants& c, const std::uint8_t* chunk, bool first,
               CrcFoldState* state) {
  if (first) {
    std::memcpy(state->bytes, chunk, 64);
    for (int b = 0; b < 4; ++b) state->bytes[b] ^= 0xff;
    return;
  }
  for (int lane = 0; lane < 4; ++lane) {
    std::uint8_t* s = state->bytes + 16 * lane;
    std::uint64_t lo_lo, lo_hi, hi_lo, hi_hi;
    CarrylessMultiply(LoadWord(s), c.x575, &lo_lo, &lo_hi);
    CarrylessMultiply(LoadWord(s + 8), c.x511, &hi_lo, &hi_hi);
    StoreWord(s, lo_lo ^ hi_lo ^ LoadWord(chunk + 16 * lane));
    StoreWord(s + 8, lo_hi ^ hi_hi ^ LoadWord(chunk + 16 * lane + 8));
  }
}

}  // namespace

void ApplyPlain(const ApplyArgs& a) {
  for (std::size_t i = 0; i < a.r; ++i) {
    for (std::size_t b = a.offset; b < a.offset + a.len; ++b) {
      std::uint8_t sum = 0;
      for (std::size_t j = 0; j < a.k; ++j)
        sum ^= AffineByte(a.operands[i * a.k + j], a.inputs[j][b]);
      a.outputs[i][b] = sum;
    }
  }
}

void ApplyFoldingCrcPlain(const ApplyArgs& a, const CrcFoldConstants& constants,
                          CrcFoldState* states, bool first) {
  ApplyPlain(a);
  for (std::size_t at = a.offset; at + 64 <= a.offset + a.len; at += 64) {
    const bool starts = first && at == a.offset;
    for (std::size_t j = 0; j < a.k; ++j)
      FoldChunk(constants, a.inputs[j] + at, starts, &states[j]);
    for (std::size_t i = 0; i < a.r; ++i)
      FoldChunk(constants, a.outputs[i] + at, starts, &states[a.k + i]);
  }
}

}  // namespace fls::gfni
