// Host entry point of the CUDA matrix kernels (rs_matrix_kernel.cu): one
// launch over a whole device-resident batch. Only compiled with CUDA.
// Thread-safety: safe to call concurrently (each call names its own stream).
#pragma once

#include <cuda_runtime_api.h>

#include "rs_matrix_kernel.cuh"

namespace fls::kernels {

// Launches the kernel of `path` over `view` (device pointers, tables
// included) on `stream`, with as many blocks as the device holds at once
// (at most one item per thread). Returns the launch's error; the kernel's
// own completion is the stream's business. Requires a path valid for
// (view.k, view.r): kFixed only for IsFixedShape, the shared generic one only
// when the tables fit kMaxSharedTableBytes.
cudaError_t LaunchMatrixApply(const MatrixApplyView& view, KernelPath path, cudaStream_t stream);

}  // namespace fls::kernels
