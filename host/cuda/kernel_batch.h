// KernelBatch: the owning host object behind the matrix kernel's view
// (kernels::MatrixApplyView, the light, trivially copyable struct that the
// device and the CPU execution of the kernel source take), in the
// cuCollections / CUTLASS pattern. It owns the padded input and output blocks
// of one launch in the kernel's memory, holds the packed tables of the
// launch's coefficient matrix, and hands out the view and the kernel path.
//
// Both backends build every launch through it: `cuda` keeps one per stream,
// in device memory (the inputs arrive by copy from a pinned staging buffer);
// `cuda-cpu` one per Apply call, in host memory (staged into directly). So the
// CPU execution checks the very layout, sizes and view the GPU is given.
// Thread-safety: one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "fls/backend.h"
#include "kernel_memory.h"
#include "kernel_tables.h"
#include "rs_matrix_kernel.cuh"

namespace fls {

class KernelBatch {
 public:
  explicit KernelBatch(const KernelMemory& memory) : inputs_(memory), outputs_(memory) {}

  // Sizes the buffers for one launch over `work` (its stripes, its blocks
  // padded to 16 bytes; buffers only grow) and holds `tables`, which must be
  // built for work's rows: InvalidArgument naming both shapes when their
  // (k, r) differ. Unavailable when kernel memory is exhausted.
  Status Prepare(const MatrixApply& work, std::shared_ptr<const KernelTables> tables);

  // Where the staged inputs go: stripes * k padded blocks (rs_kernel_plan.h).
  std::uint8_t* inputs() const { return inputs_.data(); }
  std::size_t input_bytes() const { return stripes_ * k_ * padded_block_; }
  // What the kernel writes: stripes * r padded blocks.
  const std::uint8_t* outputs() const { return outputs_.data(); }
  std::size_t output_bytes() const { return stripes_ * r_ * padded_block_; }

  // The launch as the kernel sees it; valid until the next Prepare. Before a
  // successful Prepare (or after a failed one) it is an empty launch.
  kernels::MatrixApplyView view() const;
  // The kernel that runs it; `allow_fixed` false forces the generic path.
  kernels::KernelPath path(bool allow_fixed) const {
    return kernels::ChooseKernelPath(k_, r_, allow_fixed);
  }

 private:
  KernelBuffer inputs_, outputs_;
  std::shared_ptr<const KernelTables> tables_;
  std::uint32_t k_ = 0, r_ = 0;
  std::size_t stripes_ = 0, padded_block_ = 0;
};

}  // namespace fls
