// AVX2 + GFNI bodies of the GFNI kernels (VEX-encoded GF2P8AFFINEQB on 32-byte
// registers). This file alone is compiled with -mavx2 -mgfni (CMakeLists.txt);
// see gfni_kernels.h. It instantiates no library template: an inline function
// compiled here with AVX2 could be the copy the linker keeps for the whole program.
#include <immintrin.h>

#include <cstring>

#include "gfni_kernels.h"

#define FLS_ALWAYS_INLINE inline __attribute__((always_inline))

namespace fls::gfni {
namespace {

// How far ahead of the loads the main loop prefetches each input (as in the
// AVX-512 kernels).
constexpr std::size_t kPrefetchBytes = 2048;

// The coefficient's operand, broadcast into a register. VEX encodings have no
// broadcast memory operand, but where extra flags enable AVX-512VL (e.g.
// -march=native) clang may pick the EVEX form with a folded {1to4} operand,
// which LLVM before 20 encodes with the wrong displacement scale: the empty
// asm keeps the operand in a register (see gfni_kernels_avx512.cc).
FLS_ALWAYS_INLINE __m256i Operand(const std::uint64_t* op) {
  __m256i m = _mm256_set1_epi64x(static_cast<long long>(*op));
  asm("" : "+v"(m));
  return m;
}
FLS_ALWAYS_INLINE __m256i Mul(__m256i x, __m256i operand) {
  return _mm256_gf2p8affine_epi64_epi8(x, operand, 0);
}

// G outputs over all k inputs for the 32-byte column at byte offset i;
// kPrefetch: also prefetch each input's line kPrefetchBytes ahead.
template <int G, bool kPrefetch>
FLS_ALWAYS_INLINE void Column(const std::uint64_t* ops, std::size_t k,
                              const std::uint8_t* const* in, std::uint8_t* const* out,
                              std::size_t i) {
  __m256i acc[G];
  const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in[0] + i));
  if constexpr (kPrefetch)
    _mm_prefetch(reinterpret_cast<const char*>(in[0] + i + kPrefetchBytes), _MM_HINT_T0);
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) acc[g] = Mul(x0, Operand(ops + g * k));
  for (std::size_t j = 1; j < k; ++j) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in[j] + i));
    if constexpr (kPrefetch)
      _mm_prefetch(reinterpret_cast<const char*>(in[j] + i + kPrefetchBytes), _MM_HINT_T0);
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) acc[g] = _mm256_xor_si256(acc[g], Mul(x, Operand(ops + g * k + j)));
  }
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[g] + i), acc[g]);
}

// G outputs accumulated over all k inputs, 32 bytes at a time, over
// [begin, end) with end - begin a multiple of 32. One prefetch per 64-byte
// line, so every other column; the two kinds of column are separate loops
// rather than a branch in the inner loop.
template <int G>
void RunPass(const std::uint64_t* ops, std::size_t k, const std::uint8_t* const* in,
             std::uint8_t* const* out, std::size_t begin, std::size_t end) {
  std::size_t i = begin;
  for (; i + 64 <= end; i += 64) {
    Column<G, true>(ops, k, in, out, i);
    Column<G, false>(ops, k, in, out, i + 32);
  }
  if (i + 32 <= end) Column<G, true>(ops, k, in, out, i);
}

void Dispatch(std::size_t outputs, const std::uint64_t* ops, std::size_t k,
              const std::uint8_t* const* in, std::uint8_t* const* out, std::size_t begin,
              std::size_t end) {
  static_assert(kAvx2OutputsPerPass == 6);
  switch (outputs) {
    case 1:
      return RunPass<1>(ops, k, in, out, begin, end);
    case 2:
      return RunPass<2>(ops, k, in, out, begin, end);
    case 3:
      return RunPass<3>(ops, k, in, out, begin, end);
    case 4:
      return RunPass<4>(ops, k, in, out, begin, end);
    case 5:
      return RunPass<5>(ops, k, in, out, begin, end);
    case 6:
      return RunPass<6>(ops, k, in, out, begin, end);
  }
}

}  // namespace

void ApplyAvx2(const ApplyArgs& a) {
  const std::size_t end = a.offset + a.len;
  const std::size_t vector_end = a.offset + a.len / 32 * 32;
  const std::size_t passes = (a.r + kAvx2OutputsPerPass - 1) / kAvx2OutputsPerPass;
  std::size_t g0 = 0;
  for (std::size_t pass = 0; pass < passes; ++pass) {
    const std::size_t n = (a.r - g0) / (passes - pass);
    Dispatch(n, a.operands + g0 * a.k, a.k, a.inputs, a.outputs + g0, a.offset, vector_end);
    g0 += n;
  }
  if (vector_end == end) return;
  // The last len % 32 bytes: through zero-padded 32-byte copies on the stack
  // (k + r <= 256), so no load or store strays past the caller's buffers.
  constexpr std::size_t kMaxBlocks = 256;
  alignas(32) std::uint8_t scratch[kMaxBlocks][32];
  const std::uint8_t* in[kMaxBlocks];
  std::uint8_t* out[kMaxBlocks];
  const std::size_t tail = end - vector_end;
  for (std::size_t j = 0; j < a.k; ++j) {
    std::memset(scratch[j], 0, 32);
    std::memcpy(scratch[j], a.inputs[j] + vector_end, tail);
    in[j] = scratch[j];
  }
  for (std::size_t i = 0; i < a.r; ++i) out[i] = scratch[a.k + i];
  ApplyArgs padded = a;
  padded.inputs = in;
  padded.outputs = out;
  padded.offset = 0;
  padded.len = 32;
  ApplyAvx2(padded);
  for (std::size_t i = 0; i < a.r; ++i) std::memcpy(a.outputs[i] + vector_end, out[i], tail);
}

}  // namespace fls::gfni
