// The CUDA runtime's kinds of KernelMemory (kernel_memory.h): device memory,
// where the `cuda` backend's kernels read and write, and page-locked host
// memory, the only kind cudaMemcpyAsync copies without a hidden synchronous
// bounce (so copies overlap kernels). Errors name the CUDA error, the call and
// where (cuda_status.h). Only built with CUDA.
// Thread-safety: stateless; safe to use from any thread (the CUDA calls act
// on the calling thread's current device).
#pragma once

#include "kernel_memory.h"

namespace fls {

const KernelMemory& CudaDeviceMemory();
const KernelMemory& CudaPinnedMemory();

}  // namespace fls
