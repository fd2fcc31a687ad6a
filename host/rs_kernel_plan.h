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
#include "host/thread_pool.h"
#include "kernels/rs_matrix_kernel.cuh"

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

}  // namespace fls
