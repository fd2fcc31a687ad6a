// KernelTables: the packed product tables of one coefficient matrix
// (BuildPackedTables, rs_kernel_plan.h) in the memory the matrix kernel reads
// them from: device memory for `cuda`, host memory for `cuda-cpu`.
// KernelTableCache builds each matrix's tables once (the encode rows, each
// erasure pattern's decode rows) and hands out shared, immutable copies.
// Thread-safety: KernelTables is immutable; KernelTableCache is safe to call
// concurrently (one lock around the map; building happens under it).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "fls/matrix.h"
#include "fls/status.h"
#include "kernel_memory.h"

namespace fls {

class KernelTables {
 public:
  // Builds rows' tables in host memory and copies them into `memory`.
  static Status Create(const GfMatrix& rows, const KernelMemory& memory,
                       std::shared_ptr<const KernelTables>* tables);

  const std::uint32_t* data() const {
    return reinterpret_cast<const std::uint32_t*>(words_.data());
  }
  std::uint32_t k() const { return k_; }
  std::uint32_t r() const { return r_; }

 private:
  KernelTables(const KernelMemory& memory, std::uint32_t k, std::uint32_t r)
      : words_(memory), k_(k), r_(r) {}

  KernelBuffer words_;
  const std::uint32_t k_, r_;
};

class KernelTableCache {
 public:
  explicit KernelTableCache(const KernelMemory& memory) : memory_(memory) {}

  // rows' tables, built on first use. At most kMaxEntries matrices are kept;
  // beyond that the cache starts over (holders keep theirs alive).
  Status Get(const GfMatrix& rows, std::shared_ptr<const KernelTables>* tables);

  static constexpr std::size_t kMaxEntries = 1024;

 private:
  const KernelMemory& memory_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const KernelTables>> entries_;
};

}  // namespace fls
