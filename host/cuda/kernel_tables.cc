#include "kernel_tables.h"

#include <vector>

#include "rs_kernel_plan.h"

namespace fls {

Status KernelTables::Create(const GfMatrix& rows, const KernelMemory& memory,
                            std::shared_ptr<const KernelTables>* tables) {
  const std::vector<std::uint32_t> host = BuildPackedTables(rows);
  std::shared_ptr<KernelTables> t(new KernelTables(memory, static_cast<std::uint32_t>(rows.cols()),
                                                   static_cast<std::uint32_t>(rows.rows())));
  const std::size_t bytes = host.size() * sizeof(std::uint32_t);
  FLS_RETURN_IF_ERROR(t->words_.Reserve(bytes).WithContext("packed tables"));
  FLS_RETURN_IF_ERROR(
      memory.CopyFromHost(t->words_.data(), host.data(), bytes).WithContext("packed tables"));
  *tables = std::move(t);
  return Status::Ok();
}

Status KernelTableCache::Get(const GfMatrix& rows, std::shared_ptr<const KernelTables>* tables) {
  std::string key(rows.cells().begin(), rows.cells().end());
  key.push_back(static_cast<char>(rows.rows()));  // r x k with equal cells differ by shape
  key.push_back(static_cast<char>(rows.rows() >> 8));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    *tables = it->second;
    return Status::Ok();
  }
  std::shared_ptr<const KernelTables> built;
  FLS_RETURN_IF_ERROR(KernelTables::Create(rows, memory_, &built));
  if (entries_.size() >= kMaxEntries) entries_.clear();
  entries_.emplace(std::move(key), built);
  *tables = std::move(built);
  return Status::Ok();
}

}  // namespace fls
