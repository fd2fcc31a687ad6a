// AVX-512 (F, BW, VL) + GFNI + VPCLMULQDQ bodies of the GFNI kernels. This file
// alone is compiled with those -m flags (CMakeLists.txt); see gfni_kernels.h.
#include <immintrin.h>

#include "gfni_kernels.h"

#define FLS_ALWAYS_INLINE inline __attribute__((always_inline))

namespace fls::gfni {
namespace {

// The coefficient's operand, broadcast into a register. The empty asm makes
// the register the only form the compiler can hand to the affine instruction:
// left alone, clang folds the load into a {1to8} broadcast memory operand, and
// LLVM before 20 encodes that operand's 8-bit displacement with the wrong
// scale (llvm-project PR 120340), so the instruction reads another
// coefficient (docs/RELIABILITY.md). GCC keeps the operands in registers
// anyway; tests/check_gfni_objects.sh rejects any folded form in the objects.
FLS_ALWAYS_INLINE __m512i Operand(const std::uint64_t* op) {
  __m512i m = _mm512_set1_epi64(static_cast<long long>(*op));
  asm("" : "+v"(m));
  return m;
}
FLS_ALWAYS_INLINE __m512i Mul(__m512i x, __m512i operand) {
  return _mm512_gf2p8affine_epi64_epi8(x, operand, 0);
}
FLS_ALWAYS_INLINE __m512i Xor3(__m512i a, __m512i b, __m512i c) {
  return _mm512_ternarylogic_epi64(a, b, c, 0x96);
}

// One pass: G outputs accumulated over all k inputs.
struct Pass {
  const std::uint64_t* ops;  // G rows, stride k
  std::size_t k;
  const std::uint8_t* const* in;
  std::uint8_t* const* out;  // G pointers
  __m512i* in_states;        // k CRC fold states, or null: inputs not folded in this pass
  __m512i* out_states;       // G CRC fold states, or null
  __m512i fold;              // per 128-bit lane: {x^575, x^511}
};

// How far ahead of the loads the main loop prefetches each input.
constexpr std::size_t kPrefetchBytes = 2048;

enum class Mode { kPlain, kMasked, kFold, kFoldFirst };

// state <- state * x^512 + chunk (mod P), U chunks in order. The first chunk of
// a block starts the state, with the CRC preset 0xFFFFFFFF xored into its first
// four bytes (equivalent to starting the CRC register at 0xFFFFFFFF).
template <int U, bool kFirst>
FLS_ALWAYS_INLINE void FoldIn(__m512i* state, const __m512i (&x)[U], __m512i fold) {
  __m512i s;
  int u = 0;
  if constexpr (kFirst) {
    s = _mm512_xor_si512(x[0], _mm512_set_epi64(0, 0, 0, 0, 0, 0, 0, 0xFFFFFFFFll));
    u = 1;
  } else {
    s = _mm512_load_si512(state);
  }
  for (; u < U; ++u)
    s = Xor3(_mm512_clmulepi64_epi128(s, fold, 0x00), _mm512_clmulepi64_epi128(s, fold, 0x11),
             x[u]);
  _mm512_store_si512(state, s);
}

// U consecutive 64-byte columns at byte offset i (kMasked: one partial column).
// K > 0: k known at compile time (the common shapes, fully unrolled); 0: p.k.
template <int G, int U, Mode kMode, int K>
FLS_ALWAYS_INLINE void Columns(const Pass& p, std::size_t i, __mmask64 mask) {
  constexpr bool kFolds = kMode == Mode::kFold || kMode == Mode::kFoldFirst;
  constexpr bool kFirst = kMode == Mode::kFoldFirst;
  const std::size_t k = K > 0 ? K : p.k;
  auto load = [&](std::size_t j, __m512i(&x)[U]) {
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
      if constexpr (kMode == Mode::kMasked)
        x[u] = _mm512_maskz_loadu_epi8(mask, p.in[j] + i);
      else
        x[u] = _mm512_loadu_si512(p.in[j] + i + 64 * u);
    }
    if constexpr (U == 2) {
      // The hardware prefetchers alone fall behind k streams read at this
      // rate from memory (1 MiB blocks beyond the LLC: 16 -> 22 GB/s encode,
      // 9 -> 17 GB/s with CRCs, measured); a prefetch past the block's end
      // is harmless.
      _mm_prefetch(reinterpret_cast<const char*>(p.in[j] + i + kPrefetchBytes), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(p.in[j] + i + kPrefetchBytes + 64), _MM_HINT_T0);
    }
    if constexpr (kFolds)
      if (p.in_states != nullptr) FoldIn<U, kFirst>(&p.in_states[j], x, p.fold);
  };

  __m512i acc[G][U];
  __m512i x[U], y[U];
  load(0, x);
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) {
    const __m512i m = Operand(p.ops + g * k);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) acc[g][u] = Mul(x[u], m);
  }
  std::size_t j = 1;
#pragma GCC unroll 16
  for (; j + 1 < k; j += 2) {
    load(j, x);
    load(j + 1, y);
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      const __m512i m1 = Operand(p.ops + g * k + j), m2 = Operand(p.ops + g * k + j + 1);
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) acc[g][u] = Xor3(acc[g][u], Mul(x[u], m1), Mul(y[u], m2));
    }
  }
  if (j < k) {
    load(j, x);
#pragma GCC unroll 8
    for (int g = 0; g < G; ++g) {
      const __m512i m = Operand(p.ops + g * k + j);
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) acc[g][u] = _mm512_xor_si512(acc[g][u], Mul(x[u], m));
    }
  }
#pragma GCC unroll 8
  for (int g = 0; g < G; ++g) {
    if constexpr (kFolds)
      if (p.out_states != nullptr) FoldIn<U, kFirst>(&p.out_states[g], acc[g], p.fold);
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
      if constexpr (kMode == Mode::kMasked)
        _mm512_mask_storeu_epi8(p.out[g] + i, mask, acc[g][u]);
      else
        _mm512_storeu_si512(p.out[g] + i + 64 * u, acc[g][u]);
    }
  }
}

template <int G, bool kFolding, int K>
void RunPass(const Pass& p, std::size_t begin, std::size_t end, bool first) {
  std::size_t i = begin;
  if constexpr (kFolding) {
    // With k known, the fold states are copied into a local array the
    // compiler keeps in registers across the whole range, instead of a load
    // and a store per state per column.
    constexpr int kLocal = K > 0 ? K : 1;
    __m512i in_local[kLocal], out_local[G];
    Pass q = p;
    if constexpr (K > 0) {
      if (p.in_states != nullptr) {
        q.in_states = in_local;
        if (!first)
#pragma GCC unroll 16
          for (int j = 0; j < K; ++j) in_local[j] = _mm512_load_si512(&p.in_states[j]);
      }
      q.out_states = out_local;
      if (!first)
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) out_local[g] = _mm512_load_si512(&p.out_states[g]);
    }
    if (first && i + 64 <= end) {
      Columns<G, 1, Mode::kFoldFirst, K>(q, i, 0);
      i += 64;
    }
    for (; i + 128 <= end; i += 128) Columns<G, 2, Mode::kFold, K>(q, i, 0);
    for (; i + 64 <= end; i += 64) Columns<G, 1, Mode::kFold, K>(q, i, 0);
    if constexpr (K > 0) {
      if (p.in_states != nullptr)
#pragma GCC unroll 16
        for (int j = 0; j < K; ++j) _mm512_store_si512(&p.in_states[j], in_local[j]);
#pragma GCC unroll 8
      for (int g = 0; g < G; ++g) _mm512_store_si512(&p.out_states[g], out_local[g]);
    }
  } else {
    for (; i + 128 <= end; i += 128) Columns<G, 2, Mode::kPlain, K>(p, i, 0);
    for (; i + 64 <= end; i += 64) Columns<G, 1, Mode::kPlain, K>(p, i, 0);
    if (i < end) Columns<G, 1, Mode::kMasked, K>(p, i, ~0ull >> (64 - (end - i)));
  }
}

// The common data counts get their own fully unrolled instances.
template <int G, bool kFolding>
void RunPassK(const Pass& p, std::size_t begin, std::size_t end, bool first) {
  switch (p.k) {
    case 4:
      return RunPass<G, kFolding, 4>(p, begin, end, first);
    case 6:
      return RunPass<G, kFolding, 6>(p, begin, end, first);
    case 8:
      return RunPass<G, kFolding, 8>(p, begin, end, first);
    case 10:
      return RunPass<G, kFolding, 10>(p, begin, end, first);
    case 12:
      return RunPass<G, kFolding, 12>(p, begin, end, first);
    default:
      return RunPass<G, kFolding, 0>(p, begin, end, first);
  }
}

template <bool kFolding>
void Dispatch(std::size_t outputs, const Pass& p, std::size_t begin, std::size_t end, bool first) {
  static_assert(kAvx512OutputsPerPass == 6);
  switch (outputs) {
    case 1:
      return RunPassK<1, kFolding>(p, begin, end, first);
    case 2:
      return RunPassK<2, kFolding>(p, begin, end, first);
    case 3:
      return RunPassK<3, kFolding>(p, begin, end, first);
    case 4:
      return RunPassK<4, kFolding>(p, begin, end, first);
    case 5:
      return RunPassK<5, kFolding>(p, begin, end, first);
    case 6:
      return RunPassK<6, kFolding>(p, begin, end, first);
  }
}

// Splits r outputs into the fewest passes, of near-equal sizes.
template <typename Fn>
void ForEachPass(std::size_t r, Fn fn) {
  const std::size_t passes = (r + kAvx512OutputsPerPass - 1) / kAvx512OutputsPerPass;
  std::size_t g0 = 0;
  for (std::size_t pass = 0; pass < passes; ++pass) {
    const std::size_t n = (r - g0) / (passes - pass);
    fn(pass, g0, n);
    g0 += n;
  }
}

}  // namespace

void ApplyAvx512(const ApplyArgs& a) {
  ForEachPass(a.r, [&](std::size_t, std::size_t g0, std::size_t n) {
    const Pass p{a.operands + g0 * a.k, a.k, a.inputs, a.outputs + g0, nullptr, nullptr,
                 _mm512_setzero_si512()};
    Dispatch<false>(n, p, a.offset, a.offset + a.len, false);
  });
}

void ApplyFoldingCrcAvx512(const ApplyArgs& a, const CrcFoldConstants& c, CrcFoldState* states,
                           bool first) {
  auto* s = reinterpret_cast<__m512i*>(states);
  const __m512i fold =
      _mm512_set_epi64(static_cast<long long>(c.x511), static_cast<long long>(c.x575),
                       static_cast<long long>(c.x511), static_cast<long long>(c.x575),
                       static_cast<long long>(c.x511), static_cast<long long>(c.x575),
                       static_cast<long long>(c.x511), static_cast<long long>(c.x575));
  ForEachPass(a.r, [&](std::size_t pass, std::size_t g0, std::size_t n) {
    // Inputs are folded once, in the first pass; each output in its own pass.
    const Pass p{a.operands + g0 * a.k,   a.k,          a.inputs, a.outputs + g0,
                 pass == 0 ? s : nullptr, s + a.k + g0, fold};
    Dispatch<true>(n, p, a.offset, a.offset + a.len, first);
  });
}

}  // namespace fls::gfni
