// The CUDA kernels of the Reed-Solomon matrix apply: each loads the packed
// tables into shared memory (or reads them from global memory when too big),
// waits at the barrier, then runs the per-thread grid-stride loop of
// rs_matrix_kernel.cuh. One launch covers a whole staged batch.
#include <cuda_runtime.h>

#include "rs_matrix_kernel.cuh"
#include "rs_matrix_launch.h"

namespace fls::kernels {
namespace {

template <uint32_t K, uint32_t R>
__global__ void __launch_bounds__(kThreadsPerBlock) MatrixApplyFixedKernel(MatrixApplyView v) {
  extern __shared__ uint32_t shared_tables[];
  CopyTablesCooperative(shared_tables, v.tables, K * kTableEntries, threadIdx.x, blockDim.x);
  __syncthreads();
  ThreadMainFixed<K, R>(v, shared_tables, uint64_t{blockIdx.x} * blockDim.x + threadIdx.x,
                        uint64_t{gridDim.x} * blockDim.x);
}

__global__ void __launch_bounds__(kThreadsPerBlock)
    MatrixApplyGenericSharedKernel(MatrixApplyView v) {
  extern __shared__ uint32_t shared_tables[];
  CopyTablesCooperative(shared_tables, v.tables, TableWords(v.k, v.r), threadIdx.x, blockDim.x);
  __syncthreads();
  ThreadMainGeneric(v, shared_tables, uint64_t{blockIdx.x} * blockDim.x + threadIdx.x,
                    uint64_t{gridDim.x} * blockDim.x);
}

__global__ void __launch_bounds__(kThreadsPerBlock)
    MatrixApplyGenericGlobalKernel(MatrixApplyView v) {
  ThreadMainGeneric(v, v.tables, uint64_t{blockIdx.x} * blockDim.x + threadIdx.x,
                    uint64_t{gridDim.x} * blockDim.x);
}

template <typename Kernel>
cudaError_t Launch(Kernel kernel, const MatrixApplyView& v, uint32_t shared_bytes,
                   cudaStream_t stream) {
  int device = 0, sms = 0, per_sm = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess)
    err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  if (err == cudaSuccess)
    err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreadsPerBlock,
                                                        shared_bytes);
  if (err != cudaSuccess) return err;
  const uint32_t blocks = GridBlocks(
      WorkItems(v), static_cast<uint32_t>(sms) * static_cast<uint32_t>(per_sm > 0 ? per_sm : 1));
  kernel<<<blocks, kThreadsPerBlock, shared_bytes, stream>>>(v);
  return cudaGetLastError();
}

}  // namespace

cudaError_t LaunchMatrixApply(const MatrixApplyView& v, KernelPath path, cudaStream_t stream) {
  const uint32_t shared_bytes = SharedTableBytes(path, v.k, v.r);
  switch (path) {
    case KernelPath::kFixed:
#define FLS_RS_LAUNCH_FIXED(K, R) \
  if (v.k == K && v.r == R) return Launch(MatrixApplyFixedKernel<K, R>, v, shared_bytes, stream);
      FLS_RS_FIXED_SHAPES(FLS_RS_LAUNCH_FIXED)
#undef FLS_RS_LAUNCH_FIXED
      return cudaErrorInvalidValue;
    case KernelPath::kGenericShared:
      if (shared_bytes > kMaxSharedTableBytes) return cudaErrorInvalidValue;
      return Launch(MatrixApplyGenericSharedKernel, v, shared_bytes, stream);
    case KernelPath::kGenericGlobal:
      return Launch(MatrixApplyGenericGlobalKernel, v, 0, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace fls::kernels
