#include "cuda_cpu_backend.h"

#include <atomic>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "rs_kernel_plan.h"
#include "rs_matrix_kernel.cuh"

namespace fls {
namespace {

using kernels::KernelPath;
using kernels::MatrixApplyView;

struct AlignedDelete {
  void operator()(std::uint8_t* p) const { ::operator delete[](p, std::align_val_t(64)); }
};
using AlignedBytes = std::unique_ptr<std::uint8_t[], AlignedDelete>;

AlignedBytes AllocateAligned(std::size_t bytes) {
  return AlignedBytes(static_cast<std::uint8_t*>(::operator new[](bytes, std::align_val_t(64))));
}

// Runs one block of the grid the way the device does: the cooperative table
// copy by all its threads, then (after the barrier) each thread's loop.
template <typename ThreadMain>
void RunBlock(const MatrixApplyView& v, KernelPath path, std::uint32_t blocks, std::uint32_t block,
              std::vector<std::uint32_t>& shared, ThreadMain thread_main) {
  const std::uint32_t threads = kernels::kThreadsPerBlock;
  const std::uint32_t* tables = v.tables;
  if (path != KernelPath::kGenericGlobal) {
    const std::uint32_t words = kernels::TableWords(v.k, v.r);
    shared.resize(words);
    for (std::uint32_t t = 0; t < threads; ++t)
      kernels::CopyTablesCooperative(shared.data(), v.tables, words, t, threads);
    tables = shared.data();
  }
  const std::uint64_t grid_threads = static_cast<std::uint64_t>(blocks) * threads;
  for (std::uint32_t t = 0; t < threads; ++t)
    thread_main(v, tables, static_cast<std::uint64_t>(block) * threads + t, grid_threads);
}

}  // namespace

CudaCpuBackend::CudaCpuBackend(std::shared_ptr<const Codec> codec, const CudaCpuOptions& options)
    : Backend(std::move(codec)), options_(options), pool_(options.threads) {}

Status CudaCpuBackend::Apply(const MatrixApply& w) {
  const std::vector<std::uint32_t> tables = BuildPackedTables(*w.rows);
  std::vector<const std::uint8_t*> inputs;
  std::vector<std::uint8_t*> outputs;
  for (const SubBatch& sub :
       PlanSubBatches(w.stripes, w.rows->cols(), w.block_bytes, options_.sub_batch_bytes))
    FLS_RETURN_IF_ERROR(Launch(SubBatchWork(w, sub, inputs, outputs), tables));
  return Status::Ok();
}

// One launch: staging, the grid, unstaging.
Status CudaCpuBackend::Launch(const MatrixApply& w, const std::vector<std::uint32_t>& tables) {
  const std::uint32_t k = static_cast<std::uint32_t>(w.rows->cols());
  const std::uint32_t r = static_cast<std::uint32_t>(w.rows->rows());
  const std::size_t padded = PaddedBlockBytes(w.block_bytes);
  AlignedBytes in = AllocateAligned(w.stripes * k * padded);
  AlignedBytes out = AllocateAligned(w.stripes * r * padded);
  StageInputs(w, 0, w.stripes, in.get(), pool_);

  MatrixApplyView view{in.get(), out.get(), tables.data(), k, r, w.stripes, padded};
  const KernelPath path = kernels::ChooseKernelPath(k, r, options_.allow_fixed_kernels);
  const std::uint32_t max_blocks = options_.max_blocks != 0
                                       ? options_.max_blocks
                                       : static_cast<std::uint32_t>(pool_.threads()) * 8;
  const std::uint32_t blocks = kernels::GridBlocks(kernels::WorkItems(view), max_blocks);

  std::atomic<bool> unmatched{false};
  pool_.Run(blocks, [&](std::size_t block) {
    std::vector<std::uint32_t> shared;
    const std::uint32_t b = static_cast<std::uint32_t>(block);
    if (path != KernelPath::kFixed) {
      RunBlock(view, path, blocks, b, shared, kernels::ThreadMainGeneric);
      return;
    }
#define FLS_RS_CPU_FIXED(K, R)                                               \
  if (k == K && r == R) {                                                    \
    RunBlock(view, path, blocks, b, shared, kernels::ThreadMainFixed<K, R>); \
    return;                                                                  \
  }
    FLS_RS_FIXED_SHAPES(FLS_RS_CPU_FIXED)
#undef FLS_RS_CPU_FIXED
    unmatched = true;
  });
  if (unmatched)
    return Status::Internal("cuda-cpu: no fixed kernel instance for k=" + std::to_string(k) +
                            ", r=" + std::to_string(r));

  UnstageOutputs(w, 0, w.stripes, out.get(), pool_);
  return Status::Ok();
}

}  // namespace fls
