// The Reed-Solomon matrix kernel's per-thread arithmetic: outputs = rows x
// inputs over GF(2^8), for every stripe of a batch. Everything here is
// FLS_HD (__host__ __device__ under nvcc, plain inline C++ under g++), so the
// CUDA kernels (rs_matrix_kernel.cu) and the CPU execution of the same source
// (host/cuda/cuda_cpu_backend.cc) run the very same code per thread.
//
// Device layout (built by the host runtime, host/cuda/rs_kernel_plan.h): a batch of
// S stripes with k inputs and r outputs of B bytes each is staged as
//   inputs:  S * k blocks of P bytes, stripe-major: input j of stripe s at (s*k + j) * P
//   outputs: S * r blocks of P bytes:               output i of stripe s at (s*r + i) * P
// where P = B rounded up to a multiple of 16 and the pad bytes are zero, so
// every 16-byte column lies inside its block and no thread reads past one.
//
// Work decomposition: one work item is one 16-byte column of one stripe;
// items are numbered column-fastest (item = stripe * P/16 + column), so
// neighbouring threads touch neighbouring 16 bytes (coalesced loads). Threads
// walk the items in a grid-stride loop.
//
// Products: output rows are taken in groups of 4. For a group g and input j,
// table[(g*k + j)*256 + x] packs the products of data byte x with the group's
// rows: c0j*x | c1j*x << 8 | c2j*x << 16 | c3j*x << 24 (lanes of missing rows
// are zero). One lookup per data byte thus yields four products; a thread
// XOR-accumulates 16 packed words (one per byte of its column) and finally
// unpacks lane i into output row i's 16 bytes.
//
// Thread-safety: pure functions of their arguments.
#pragma once

#include <stdint.h>

#include <cstring>

#ifdef __CUDACC__
#define FLS_HD __host__ __device__
#else
#define FLS_HD
#endif

#if defined(__CUDACC__) || defined(__clang__)
#define FLS_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define FLS_UNROLL _Pragma("GCC unroll 32")
#else
#define FLS_UNROLL
#endif

namespace fls::kernels {

inline constexpr uint32_t kColumnBytes = 16;
inline constexpr uint32_t kRowsPerGroup = 4;
inline constexpr uint32_t kTableEntries = 256;  // one per value of a data byte
inline constexpr uint32_t kThreadsPerBlock = 256;
// Tables up to this size go to shared memory (the default per-block limit,
// no opt-in needed on sm_80/sm_90); larger ones are read from global memory.
inline constexpr uint32_t kMaxSharedTableBytes = 48 * 1024;

// The (k, r) shapes with a fully unrolled kernel: the common k with 1 to 4
// output rows (encode with m <= 4, reconstruct of up to 4 shards). X(K, R).
// clang-format off
#define FLS_RS_FIXED_SHAPES(X)                \
  X(6, 1)  X(6, 2)  X(6, 3)  X(6, 4)          \
  X(8, 1)  X(8, 2)  X(8, 3)  X(8, 4)          \
  X(10, 1) X(10, 2) X(10, 3) X(10, 4)         \
  X(12, 1) X(12, 2) X(12, 3) X(12, 4)         \
  X(17, 1) X(17, 2) X(17, 3) X(17, 4)
// clang-format on

// What the device (or the CPU executing the kernel source) works on: a light,
// trivially copyable view of buffers owned by the host runtime.
struct MatrixApplyView {
  const uint8_t* inputs;   // stripes * k blocks of padded_block bytes
  uint8_t* outputs;        // stripes * r blocks of padded_block bytes
  const uint32_t* tables;  // ceil(r / 4) * k * 256 packed entries
  uint32_t k;
  uint32_t r;
  uint64_t stripes;
  uint64_t padded_block;  // a multiple of 16
};

FLS_HD inline uint32_t RowGroups(uint32_t r) { return (r + kRowsPerGroup - 1) / kRowsPerGroup; }
FLS_HD inline uint32_t TableWords(uint32_t k, uint32_t r) {
  return RowGroups(r) * k * kTableEntries;
}
FLS_HD inline uint64_t ColumnsPerBlock(const MatrixApplyView& v) {
  return v.padded_block / kColumnBytes;
}
FLS_HD inline uint64_t WorkItems(const MatrixApplyView& v) {
  return v.stripes * ColumnsPerBlock(v);
}

// One table entry: the products of a data byte with up to four rows, lane i
// in bits 8i .. 8i+7.
FLS_HD inline uint32_t PackLanes(uint32_t p0, uint32_t p1, uint32_t p2, uint32_t p3) {
  return p0 | (p1 << 8) | (p2 << 16) | (p3 << 24);
}

struct StripeColumn {
  uint64_t stripe;
  uint64_t column;
};

// The index mapping: work item -> (stripe, column).
FLS_HD inline StripeColumn ItemToStripeColumn(uint64_t item, uint64_t columns) {
  return {item / columns, item % columns};
}

// Walks items first, first + stride, first + 2*stride, ... as (stripe, column)
// pairs with one division up front instead of one per step.
struct ItemCursor {
  uint64_t stripe, column;
  uint64_t step_stripes, step_columns, columns;

  FLS_HD static ItemCursor Start(uint64_t first, uint64_t stride, uint64_t columns) {
    const StripeColumn at = ItemToStripeColumn(first, columns);
    const StripeColumn step = ItemToStripeColumn(stride, columns);
    return {at.stripe, at.column, step.stripe, step.column, columns};
  }
  FLS_HD void Advance() {
    stripe += step_stripes;
    column += step_columns;
    if (column >= columns) {
      column -= columns;
      ++stripe;
    }
  }
};

// Sixteen bytes of one block, as four little-endian words (x86 and NVIDIA
// GPUs are both little-endian, so byte b is bits 8*(b%4) of word b/4).
struct Column {
  uint32_t w[4];
};

// The only lines that differ between device and host: the 16-byte access.
// The padded layout keeps `p` 16-byte aligned on the device.
FLS_HD inline Column LoadColumn(const uint8_t* p) {
#ifdef __CUDA_ARCH__
  const uint4 v = *reinterpret_cast<const uint4*>(p);
  return {{v.x, v.y, v.z, v.w}};
#else
  Column c;
  std::memcpy(c.w, p, kColumnBytes);
  return c;
#endif
}

FLS_HD inline void StoreColumn(uint8_t* p, const Column& c) {
#ifdef __CUDA_ARCH__
  *reinterpret_cast<uint4*>(p) = make_uint4(c.w[0], c.w[1], c.w[2], c.w[3]);
#else
  std::memcpy(p, c.w, kColumnBytes);
#endif
}

FLS_HD inline uint32_t ByteOf(const Column& c, uint32_t b) {
  return (c.w[b >> 2] >> ((b & 3) * 8)) & 0xffu;
}

// acc[b] ^= table[byte b of x]: four products per lookup.
FLS_HD inline void AccumulateColumn(const uint32_t* table, const Column& x, uint32_t acc[16]) {
  FLS_UNROLL
  for (uint32_t b = 0; b < kColumnBytes; ++b) acc[b] ^= table[ByteOf(x, b)];
}

// Lane `lane` of the 16 accumulators: that output row's 16 bytes.
FLS_HD inline Column ExtractLane(const uint32_t acc[16], uint32_t lane) {
  const uint32_t shift = lane * 8;
  Column c;
  FLS_UNROLL
  for (uint32_t q = 0; q < 4; ++q)
    c.w[q] = ((acc[4 * q] >> shift) & 0xffu) | (((acc[4 * q + 1] >> shift) & 0xffu) << 8) |
             (((acc[4 * q + 2] >> shift) & 0xffu) << 16) |
             (((acc[4 * q + 3] >> shift) & 0xffu) << 24);
  return c;
}

// One thread's work for one item, (k, r) known at compile time (r <= 4: one
// row group). Fully unrolled; the accumulators stay in registers.
template <uint32_t K, uint32_t R>
FLS_HD inline void ApplyColumnFixed(const MatrixApplyView& v, const uint32_t* tables,
                                    uint64_t stripe, uint64_t column) {
  static_assert(R >= 1 && R <= kRowsPerGroup, "fixed kernels cover one row group");
  const uint64_t p = v.padded_block;
  const uint8_t* in = v.inputs + stripe * K * p + column * kColumnBytes;
  uint8_t* out = v.outputs + stripe * R * p + column * kColumnBytes;
  uint32_t acc[16] = {};
  FLS_UNROLL
  for (uint32_t j = 0; j < K; ++j)
    AccumulateColumn(tables + j * kTableEntries, LoadColumn(in + j * p), acc);
  FLS_UNROLL
  for (uint32_t i = 0; i < R; ++i) StoreColumn(out + i * p, ExtractLane(acc, i));
}

// The same for any (k, r): row groups one after another, each re-reading the
// k input columns (from cache on the device).
FLS_HD inline void ApplyColumnGeneric(const MatrixApplyView& v, const uint32_t* tables,
                                      uint64_t stripe, uint64_t column) {
  const uint64_t p = v.padded_block;
  const uint8_t* in = v.inputs + stripe * v.k * p + column * kColumnBytes;
  uint8_t* out = v.outputs + stripe * v.r * p + column * kColumnBytes;
  for (uint32_t g = 0; g * kRowsPerGroup < v.r; ++g) {
    const uint32_t* group_tables = tables + static_cast<uint64_t>(g) * v.k * kTableEntries;
    uint32_t acc[16] = {};
    for (uint32_t j = 0; j < v.k; ++j)
      AccumulateColumn(group_tables + j * kTableEntries, LoadColumn(in + j * p), acc);
    const uint32_t rows =
        v.r - g * kRowsPerGroup < kRowsPerGroup ? v.r - g * kRowsPerGroup : kRowsPerGroup;
    for (uint32_t i = 0; i < rows; ++i)
      StoreColumn(out + (g * kRowsPerGroup + i) * p, ExtractLane(acc, i));
  }
}

// Before the barrier: the block's threads copy the tables into shared memory
// together, thread t taking words t, t + threads, ...
FLS_HD inline void CopyTablesCooperative(uint32_t* dst, const uint32_t* src, uint32_t words,
                                         uint32_t thread, uint32_t threads) {
  for (uint32_t i = thread; i < words; i += threads) dst[i] = src[i];
}

// After the barrier: one thread's grid-stride loop. `thread` is the global
// thread index, `threads` the grid's thread count.
template <uint32_t K, uint32_t R>
FLS_HD inline void ThreadMainFixed(const MatrixApplyView& v, const uint32_t* tables,
                                   uint64_t thread, uint64_t threads) {
  for (ItemCursor c = ItemCursor::Start(thread, threads, ColumnsPerBlock(v)); c.stripe < v.stripes;
       c.Advance())
    ApplyColumnFixed<K, R>(v, tables, c.stripe, c.column);
}

FLS_HD inline void ThreadMainGeneric(const MatrixApplyView& v, const uint32_t* tables,
                                     uint64_t thread, uint64_t threads) {
  for (ItemCursor c = ItemCursor::Start(thread, threads, ColumnsPerBlock(v)); c.stripe < v.stripes;
       c.Advance())
    ApplyColumnGeneric(v, tables, c.stripe, c.column);
}

// Grid size: enough blocks of kThreadsPerBlock for one item per thread,
// capped at `max_blocks` (what the device holds at once); the grid-stride
// loop covers the rest.
FLS_HD inline uint32_t GridBlocks(uint64_t items, uint32_t max_blocks) {
  const uint64_t wanted = (items + kThreadsPerBlock - 1) / kThreadsPerBlock;
  const uint64_t cap = max_blocks > 0 ? max_blocks : 1;
  return static_cast<uint32_t>(wanted == 0 ? 1 : (wanted < cap ? wanted : cap));
}

// Which kernel runs a (k, r) apply.
enum class KernelPath : uint8_t {
  kFixed,          // an unrolled (K, R) instance; tables in shared memory
  kGenericShared,  // runtime (k, r); tables fit shared memory
  kGenericGlobal,  // runtime (k, r); tables read from global memory
};

FLS_HD inline bool IsFixedShape(uint32_t k, uint32_t r) {
#define FLS_RS_MATCH_SHAPE(K, R) \
  if (k == K && r == R) return true;
  FLS_RS_FIXED_SHAPES(FLS_RS_MATCH_SHAPE)
#undef FLS_RS_MATCH_SHAPE
  return false;
}

// `allow_fixed` false forces the generic path (tests compare both).
FLS_HD inline KernelPath ChooseKernelPath(uint32_t k, uint32_t r, bool allow_fixed) {
  if (allow_fixed && IsFixedShape(k, r)) return KernelPath::kFixed;
  if (static_cast<uint64_t>(TableWords(k, r)) * 4 <= kMaxSharedTableBytes)
    return KernelPath::kGenericShared;
  return KernelPath::kGenericGlobal;
}

// Shared memory one block of `path` needs, in bytes.
FLS_HD inline uint32_t SharedTableBytes(KernelPath path, uint32_t k, uint32_t r) {
  return path == KernelPath::kGenericGlobal ? 0 : TableWords(k, r) * 4;
}

}  // namespace fls::kernels
