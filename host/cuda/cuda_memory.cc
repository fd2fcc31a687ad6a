#include "cuda_memory.h"

#include <cuda_runtime_api.h>

#include <cstring>

#include "cuda_status.h"

namespace fls {
namespace {

class DeviceMemory final : public KernelMemory {
 public:
  std::string_view name() const override { return "CUDA device memory"; }
  Status Allocate(std::size_t bytes, void** p) const override {
    void* q = nullptr;
    FLS_CUDA_RETURN_IF_ERROR(cudaMalloc(&q, bytes));  // 256-byte aligned
    *p = q;
    return Status::Ok();
  }
  void Free(void* p) const override {
    if (p != nullptr) cudaFree(p);
  }
  Status CopyFromHost(void* dst, const void* src, std::size_t bytes) const override {
    FLS_CUDA_RETURN_IF_ERROR(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
    return Status::Ok();
  }
};

class PinnedMemory final : public KernelMemory {
 public:
  std::string_view name() const override { return "CUDA pinned host memory"; }
  Status Allocate(std::size_t bytes, void** p) const override {
    void* q = nullptr;
    FLS_CUDA_RETURN_IF_ERROR(cudaMallocHost(&q, bytes));  // page-aligned
    *p = q;
    return Status::Ok();
  }
  void Free(void* p) const override {
    if (p != nullptr) cudaFreeHost(p);
  }
  Status CopyFromHost(void* dst, const void* src, std::size_t bytes) const override {
    std::memcpy(dst, src, bytes);
    return Status::Ok();
  }
};

}  // namespace

// Never destroyed, so that buffers freed during static destruction find them.
const KernelMemory& CudaDeviceMemory() {
  static const DeviceMemory* const memory = new DeviceMemory;
  return *memory;
}

const KernelMemory& CudaPinnedMemory() {
  static const PinnedMemory* const memory = new PinnedMemory;
  return *memory;
}

}  // namespace fls
