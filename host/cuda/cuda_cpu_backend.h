// CudaCpuBackend ("cuda-cpu"): the CUDA backend's kernel source executed on
// the CPU. It builds each launch through the same owning object as the GPU
// runtime (KernelBatch and KernelTables, here in host memory), stages a batch
// into the kernel's padded layout and runs the same FLS_HD per-thread
// functions (kernels/rs_matrix_kernel.cuh) over the same grid of blocks and threads:
// per block, the cooperative table copy for every thread (the phase before
// __syncthreads), then every thread's grid-stride loop. Blocks run in
// parallel on a ThreadPool. It exists so that machines without a GPU (CI)
// check the kernel's logic; `auto` never picks it.
// Thread-safety: Apply may run concurrently; each call has its own buffers,
// and the table cache is locked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "fls/backend.h"
#include "fls/thread_pool.h"
#include "kernel_tables.h"

namespace fls {

class KernelBatch;

struct CudaCpuOptions {
  int threads = 0;  // CPU threads executing blocks; 0 = one per core
  // Grid blocks per launch; 0 = 8 per CPU thread. Small values make every
  // thread walk many items of the grid-stride loop (tests use that).
  std::uint32_t max_blocks = 0;
  bool allow_fixed_kernels = true;  // false: always the generic (k, r) path
  // 0: the whole batch in one launch. Otherwise launches of about this many
  // input bytes, cut by the CUDA backend's PlanSubBatches (so its sub-batch
  // and column-range logic is checked here too).
  std::size_t sub_batch_bytes = 0;
};

class CudaCpuBackend final : public Backend {
 public:
  CudaCpuBackend(std::shared_ptr<const Codec> codec, const CudaCpuOptions& options);
  std::string_view name() const override { return "cuda-cpu"; }
  int threads() const override { return pool_.threads(); }

 protected:
  Status Apply(const MatrixApply& work) override;

 private:
  Status Launch(const MatrixApply& work, const KernelBatch& batch);

  CudaCpuOptions options_;
  ThreadPool pool_;
  KernelTableCache tables_;  // in host memory
};

}  // namespace fls
