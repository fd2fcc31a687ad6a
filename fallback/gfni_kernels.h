// GFNI kernels: Reed-Solomon matrix application with GF2P8AFFINEQB, one
// affine instruction multiplying 64 (AVX-512) or 32 (AVX2) bytes by one
// GF(2^8) coefficient. Each coefficient c arrives pre-expanded into the 8x8
// bit matrix of "multiply by c" (AffineOperand), packed as the instruction's
// 64-bit operand.
//
// The AVX-512 and AVX2 bodies live in their own files, the only ones compiled
// with -mgfni -mavx512* / -mavx2: callers must have checked the CPU
// (GfniBackend::Probe) before calling them, or the process dies of SIGILL.
// Those files instantiate no library template either: an inline function
// compiled there could be the copy the linker keeps for the whole program.
//
// Each optimized entry has a plain twin with the same signature (ISA-L's
// `_base` model): ApplyPlain for ApplyAvx512 and ApplyAvx2, and
// ApplyFoldingCrcPlain for ApplyFoldingCrcAvx512, in gfni_kernels_plain.cc,
// compiled without -m flags so they run on any CPU. They are the definition
// the optimized bodies are tested against (tests/gfni_kernel_twin_test.cc),
// not a fallback: the backend never calls them.
// Thread-safety: pure functions over caller-owned buffers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fls::gfni {

// The GF2P8AFFINEQB operand that multiplies a byte by `c` in GF(2^8) mod 0x11D.
std::uint64_t AffineOperand(std::uint8_t c);

// How many outputs one pass over the inputs accumulates at most.
inline constexpr std::size_t kAvx512OutputsPerPass = 6;
inline constexpr std::size_t kAvx2OutputsPerPass = 6;

// outputs[i][offset, offset + len) = sum_j operands[i*k + j] x inputs[j][same range],
// for i < r. Any len >= 1; more than kOutputsPerPass outputs take several passes.
struct ApplyArgs {
  const std::uint64_t* operands = nullptr;  // r x k, row-major
  std::size_t k = 0, r = 0;
  const std::uint8_t* const* inputs = nullptr;  // k pointers
  std::uint8_t* const* outputs = nullptr;       // r pointers
  std::size_t offset = 0, len = 0;
};

void ApplyAvx512(const ApplyArgs& args);
void ApplyAvx2(const ApplyArgs& args);
// Their plain twin: each output byte as the XOR of the affine products of its
// column, one GF2P8AFFINEQB evaluated bit by bit per input byte. Any len >= 0.
void ApplyPlain(const ApplyArgs& args);

// CRC32C folded 64 bytes at a time alongside the arithmetic (AVX-512 +
// VPCLMULQDQ): one 64-byte fold state per block (k inputs, then r outputs).
// The state after the block's whole 64-byte chunks, fed to Crc32c as 64
// bytes with crc_so_far 0xFFFFFFFF, is the CRC32C of those chunks (see
// gfni_backend.cc); the caller chains the block's last len % 64 bytes.
struct alignas(64) CrcFoldState {
  std::uint8_t bytes[64];
};

// Fold constants for a 512-bit distance: x^575 and x^511 mod the CRC32C
// polynomial, bit-reflected. MakeCrcFoldConstants computes them (the backend
// once, at construction).
struct CrcFoldConstants {
  std::uint64_t x575, x511;
};
CrcFoldConstants MakeCrcFoldConstants();

// ApplyAvx512 over [offset, offset + len) where len is a multiple of 64, also
// folding every chunk of every input and output into `states`. `first` marks
// the chunk at `offset` as the first of its blocks (states are initialised
// there, with the CRC's 0xFFFFFFFF preset; their old contents are ignored).
void ApplyFoldingCrcAvx512(const ApplyArgs& args, const CrcFoldConstants& constants,
                           CrcFoldState* states, bool first);
// Its plain twin: ApplyPlain, then each 64-byte chunk of every input and
// output folded into its block's state in order, with a bitwise carry-less
// multiply per 128-bit lane, so the states come out byte-identical.
void ApplyFoldingCrcPlain(const ApplyArgs& args, const CrcFoldConstants& constants,
                          CrcFoldState* states, bool first);

}  // namespace fls::gfni
