#include "rs_kernel_plan.h"

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

std::vector<SubBatch> PlanSubBatches(std::size_t stripes, std::size_t k, std::size_t block_bytes,
                                     std::size_t sub_batch_bytes) {
  std::vector<SubBatch> plan;
  const std::size_t stripe_bytes = k * PaddedBlockBytes(block_bytes);
  if (sub_batch_bytes == 0 || stripes * stripe_bytes <= sub_batch_bytes) {
    plan.push_back({0, stripes, 0, block_bytes});
  } else if (stripe_bytes <= sub_batch_bytes) {
    const std::size_t per = sub_batch_bytes / stripe_bytes;
    for (std::size_t first = 0; first < stripes; first += per)
      plan.push_back({first, std::min(per, stripes - first), 0, block_bytes});
  } else {
    const std::size_t piece = std::max<std::size_t>(
        kernels::kColumnBytes, sub_batch_bytes / k / kernels::kColumnBytes * kernels::kColumnBytes);
    for (std::size_t s = 0; s < stripes; ++s)
      for (std::size_t offset = 0; offset < block_bytes; offset += piece)
        plan.push_back({s, 1, offset, std::min(piece, block_bytes - offset)});
  }
  return plan;
}

MatrixApply SubBatchWork(const MatrixApply& w, const SubBatch& sub,
                         std::vector<const std::uint8_t*>& inputs,
                         std::vector<std::uint8_t*>& outputs) {
  const std::size_t k = w.rows->cols(), r = w.rows->rows();
  MatrixApply piece = w;
  piece.stripes = sub.count;
  piece.block_bytes = sub.length;
  if (sub.offset == 0) {  // whole blocks: the caller's pointer arrays, shifted
    piece.inputs = w.inputs + sub.first * k;
    piece.outputs = w.outputs + sub.first * r;
    return piece;
  }
  inputs.resize(sub.count * k);
  outputs.resize(sub.count * r);
  for (std::size_t i = 0; i < sub.count * k; ++i)
    inputs[i] = w.inputs[sub.first * k + i] + sub.offset;
  for (std::size_t i = 0; i < sub.count * r; ++i)
    outputs[i] = w.outputs[sub.first * r + i] + sub.offset;
  piece.inputs = inputs.data();
  piece.outputs = outputs.data();
  return piece;
}

}  // namespace fls
