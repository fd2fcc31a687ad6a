// Host side shared by the CUDA backend and its CPU execution (cuda-cpu): the
// packed product tables the matrix kernel looks up, and staging of a batch
// into the kernel's padded device layout and back. Both backends call exactly these functions, so
// the CPU execution checks the GPU path's host logic as well as its per-thread arithmetic.
// Thread-safety: pure functions; the staging functions write only `dst`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fls/backend.h"
#include "fls/matrix.h"
#include "fls/thread_pool.h"
#include "rs_matrix_kernel.cuh"

namespace fls {

// The kernel's tables for `rows` (r x k): ceil(r/4) * k * 256 words, entry
// [(g*k + j)*256 + x] packing rows[4g+i][j] * x into lane i (zero lanes past r).
std::vector<std::uint32_t> BuildPackedTables(const GfMatrix& rows);

// Block size in the device layout: B rounded up to a multiple of 16.
inline std::size_t PaddedBlockBytes(std::size_t block_bytes) {
  return (block_bytes + kernels::kColumnBytes - 1) / kernels::kColumnBytes * kernels::kColumnBytes;
}

// Copies the inputs of stripes [first, first + count) of `work` into `dst`
// in the padded layout (input j of stripe first + s at (s*k + j) * P), with
// zeroed pads. `dst` holds count * k * P bytes. Spread over `pool`.
void StageInputs(const MatrixApply& work, std::size_t first, std::size_t count, std::uint8_t* dst,
                 ThreadPool& pool);

// Copies the outputs of stripes [first, first + count) from the padded layout
// in `src` to the caller's output blocks (B bytes each; pads dropped).
void UnstageOutputs(const MatrixApply& work, std::size_t first, std::size_t count,
                    const std::uint8_t* src, ThreadPool& pool);

// One launch's share of a batch: stripes [first, first + count), bytes
// [offset, offset + length) of each of their blocks.
struct SubBatch {
  std::size_t first = 0, count = 0;
  std::size_t offset = 0, length = 0;
};

// Cuts a batch of `stripes` blocks of `block_bytes` (k inputs per stripe)
// into launches of about `sub_batch_bytes` input bytes: whole stripes when
// one fits, else column ranges of one stripe (multiples of 16 bytes but the
// last), so large blocks still pipeline. 0 = the whole batch in one launch.
std::vector<SubBatch> PlanSubBatches(std::size_t stripes, std::size_t k, std::size_t block_bytes,
                                     std::size_t sub_batch_bytes);

// The MatrixApply of one sub-batch of `work`: its stripes and byte range.
// Column ranges need their own pointer arrays, kept in `inputs`/`outputs`.
MatrixApply SubBatchWork(const MatrixApply& work, const SubBatch& sub,
                         std::vector<const std::uint8_t*>& inputs,
                         std::vector<std::uint8_t*>& outputs);

}  // namespace fls
