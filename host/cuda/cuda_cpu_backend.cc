#include "cuda_cpu_backend.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "kernel_batch.h"
#include "rs_kernel_plan.h"
#include "rs_matrix_kernel.cuh"

namespace fls {
namespace {

using kernels::KernelPath;
using kernels::MatrixApplyView;

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
    : Backend(std::move(codec)),
      options_(options),
      pool_(options.threads),
      tables_(HostKernelMemory()) {}

Status CudaCpuBackend::Apply(const MatrixApply& w) {
  std::shared_ptr<const KernelTables> tables;
  FLS_RETURN_IF_ERROR(tables_.Get(*w.rows, &tables));
  KernelBatch batch(HostKernelMemory());
  std::vector<const std::uint8_t*> inputs;
  std::vector<std::uint8_t*> outputs;
  for (const SubBatch& sub :
       PlanSubBatches(w.stripes, w.rows->cols(), w.block_bytes, options_.sub_batch_bytes)) {
    const MatrixApply piece = SubBatchWork(w, sub, inputs, outputs);
    FLS_RETURN_IF_ERROR(batch.Prepare(piece, tables));
    FLS_RETURN_IF_ERROR(Launch(piece, batch));
  }
  return Status::Ok();
}

// One launch: staging (straight into the batch's host memory), the grid,
// unstaging.
Status CudaCpuBackend::Launch(const MatrixApply& w, const KernelBatch& batch) {
  StageInputs(w, 0, w.stripes, batch.inputs(), pool_);
  const MatrixApplyView view = batch.view();
  const KernelPath path = batch.path(options_.allow_fixed_kernels);
  const std::uint32_t k = view.k, r = view.r;
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

  UnstageOutputs(w, 0, w.stripes, batch.outputs(), pool_);
  return Status::Ok();
}

}  // namespace fls
