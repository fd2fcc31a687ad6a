// Where the matrix kernel's buffers live (KernelMemory), and KernelBuffer, one
// owning, grow-only buffer of such memory. Ordinary host memory is here (the
// CPU execution of the kernel source, `cuda-cpu`, runs on it); the CUDA
// runtime's device and page-locked host memory are in cuda_memory.h. One
// interface, so that KernelBatch and KernelTables (kernel_batch.h,
// kernel_tables.h) are the same code for `cuda` and `cuda-cpu`.
// Thread-safety: a KernelMemory is stateless and may be shared by any number
// of threads; a KernelBuffer belongs to one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fls/status.h"

namespace fls {

class KernelMemory {
 public:
  virtual ~KernelMemory() = default;
  // "host memory", "CUDA device memory", ...: for error messages.
  virtual std::string_view name() const = 0;
  // `bytes` (> 0) bytes aligned to at least 64; Unavailable when the memory
  // is exhausted (KernelBuffer adds what and how much). *p is untouched on
  // failure.
  virtual Status Allocate(std::size_t bytes, void** p) const = 0;
  // Releases what Allocate returned (no-op for null).
  virtual void Free(void* p) const = 0;
  // Copies `bytes` from ordinary host memory into `dst` (memory of this
  // kind) and returns once the copy is complete.
  virtual Status CopyFromHost(void* dst, const void* src, std::size_t bytes) const = 0;
};

// Ordinary host memory (aligned operator new), where `cuda-cpu` runs the kernel.
const KernelMemory& HostKernelMemory();

class KernelBuffer {
 public:
  explicit KernelBuffer(const KernelMemory& memory) : memory_(&memory) {}
  ~KernelBuffer() { memory_->Free(data_); }
  KernelBuffer(KernelBuffer&& other) noexcept;
  KernelBuffer(const KernelBuffer&) = delete;
  KernelBuffer& operator=(const KernelBuffer&) = delete;
  KernelBuffer& operator=(KernelBuffer&&) = delete;

  // Ensures capacity() >= bytes, growing at least twofold so that steady
  // batches never reallocate. Growing drops the old contents; on failure the
  // buffer is left empty (capacity 0).
  Status Reserve(std::size_t bytes);
  std::uint8_t* data() const { return data_; }
  std::size_t capacity() const { return capacity_; }
  const KernelMemory& memory() const { return *memory_; }

 private:
  const KernelMemory* memory_;
  std::uint8_t* data_ = nullptr;
  std::size_t capacity_ = 0;
};

}  // namespace fls
