#include "cuda_status.h"

namespace fls {

std::string CudaErrorText(cudaError_t err) {
  return std::string(cudaGetErrorName(err)) + " (" + cudaGetErrorString(err) + ")";
}

Status CudaErrorStatus(cudaError_t err, const char* call, const char* file, int line) {
  std::string msg = CudaErrorText(err) + " in " + call + " at " + file + ":" + std::to_string(line);
  switch (err) {
    case cudaErrorInsufficientDriver:
    case cudaErrorNoDevice:
    case cudaErrorDevicesUnavailable:
    case cudaErrorMemoryAllocation:
      return Status::Unavailable(std::move(msg));
    default:
      return Status::Internal(std::move(msg));
  }
}

}  // namespace fls
