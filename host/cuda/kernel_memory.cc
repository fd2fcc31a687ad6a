#include "kernel_memory.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

namespace fls {
namespace {

constexpr std::align_val_t kHostAlignment{64};

class HostMemory final : public KernelMemory {
 public:
  std::string_view name() const override { return "host memory"; }
  Status Allocate(std::size_t bytes, void** p) const override {
    void* q = ::operator new[](bytes, kHostAlignment, std::nothrow);
    if (q == nullptr) return Status::Unavailable("out of memory");
    *p = q;
    return Status::Ok();
  }
  void Free(void* p) const override {
    if (p != nullptr) ::operator delete[](p, kHostAlignment);
  }
  Status CopyFromHost(void* dst, const void* src, std::size_t bytes) const override {
    std::memcpy(dst, src, bytes);
    return Status::Ok();
  }
};

}  // namespace

const KernelMemory& HostKernelMemory() {
  // Never destroyed, so that buffers freed during static destruction find it.
  static const HostMemory* const memory = new HostMemory;
  return *memory;
}

KernelBuffer::KernelBuffer(KernelBuffer&& other) noexcept
    : memory_(other.memory_), data_(other.data_), capacity_(other.capacity_) {
  other.data_ = nullptr;
  other.capacity_ = 0;
}

Status KernelBuffer::Reserve(std::size_t bytes) {
  if (bytes <= capacity_) return Status::Ok();
  const std::size_t grown = std::max(bytes, capacity_ * 2);
  memory_->Free(data_);
  data_ = nullptr;
  capacity_ = 0;
  void* p = nullptr;
  FLS_RETURN_IF_ERROR(memory_->Allocate(grown, &p).WithContext(
      "allocating " + std::to_string(grown) + " bytes of " + std::string(memory_->name())));
  data_ = static_cast<std::uint8_t*>(p);
  capacity_ = grown;
  return Status::Ok();
}

}  // namespace fls
