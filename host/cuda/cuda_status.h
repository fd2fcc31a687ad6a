// CUDA runtime errors as fls::Status, naming the error, the failed call and
// where it was made: "cudaErrorMemoryAllocation (out of memory) in
// cudaMalloc(...) at host/cuda/cuda_backend.cu:120". Only built with CUDA.
// Thread-safety: pure functions.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "fls/status.h"

namespace fls {

// Unavailable for a missing/insufficient driver, no device or exhausted
// device memory (the host cannot do the work); Internal for anything else.
Status CudaErrorStatus(cudaError_t err, const char* call, const char* file, int line);

// "cudaErrorNoDevice (no CUDA-capable device is detected)".
std::string CudaErrorText(cudaError_t err);

}  // namespace fls

// Returns a Status from the enclosing function when the CUDA call fails.
#define FLS_CUDA_RETURN_IF_ERROR(call)                                         \
  do {                                                                         \
    const cudaError_t fls_cuda_err_ = (call);                                  \
    if (fls_cuda_err_ != cudaSuccess)                                          \
      return ::fls::CudaErrorStatus(fls_cuda_err_, #call, __FILE__, __LINE__); \
  } while (0)
