#include "host/rs_kernel_plan.h"

#include <algorithm>
#include <cstring>

#include "fls/gf256.h"

namespace fls {

std::vector<std::uint32_t> BuildPackedTables(const GfMatrix& rows) {
  const std::uint32_t k = static_cast<std::uint32_t>(rows.cols());
  const std::uint32_t r = static_cast<std::uint32_t>(rows.rows());
  std::vector<std::uint32_t> tables(kernels::TableWords(k, r));
  const std::uint8_t* mul = gf::MulTable();
  for (std::uint32_t g = 0; g < kernels::RowGroups(r); ++g) {
    for (std::uint32_t j = 0; j < k; ++j) {
      // Coefficient of each lane's row; 0 (all products 0) past the last row.
      std::uint32_t c[kernels::kRowsPerGroup] = {};
      for (std::uint32_t i = 0; i < kernels::kRowsPerGroup; ++i)
        if (g * kernels::kRowsPerGroup + i < r) c[i] = rows.at(g * kernels::kRowsPerGroup + i, j);
      std::uint32_t* entry =
          &tables[(static_cast<std::size_t>(g) * k + j) * kernels::kTableEntries];
      for (std::uint32_t x = 0; x < kernels::kTableEntries; ++x)
        entry[x] = kernels::PackLanes(mul[c[0] * 256 + x], mul[c[1] * 256 + x], mul[c[2] * 256 + x],
                                      mul[c[3] * 256 + x]);
    }
  }
  return tables;
}

void StageInputs(const MatrixApply& w, std::size_t first, std::size_t count, std::uint8_t* dst,
                 ThreadPool& pool) {
  const std::size_t k = w.rows->cols(), b = w.block_bytes, p = PaddedBlockBytes(b);
  pool.Run(count * k, [&](std::size_t i) {
    std::uint8_t* block = dst + i * p;
    std::memcpy(block, w.inputs[first * k + i], b);
    std::memset(block + b, 0, p - b);
  });
}

void UnstageOutputs(const MatrixApply& w, std::size_t first, std::size_t count,
                    const std::uint8_t* src, ThreadPool& pool) {
  const std::size_t r = w.rows->rows(), b = w.block_bytes, p = PaddedBlockBytes(b);
  pool.Run(count * r,
           [&](std::size_t i) { std::memcpy(w.outputs[first * r + i], src + i * p, b); });
}

}  // namespace fls
