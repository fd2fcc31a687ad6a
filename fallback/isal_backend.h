// IsalBackend: Reed-Solomon arithmetic through Intel ISA-L's ec_encode_data,
// split over stripes and column ranges on a thread pool. ISA-L's expanded
// tables (ec_init_tables) are built once per coefficient matrix - the encode
// rows and each erasure pattern's decode rows - and kept in a bounded cache.
// Thread-safety: safe to call concurrently; the table cache is locked.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fls/backend.h"
#include "fls/thread_pool.h"

namespace fls {

class IsalBackend final : public Backend {
 public:
  IsalBackend(std::shared_ptr<const Codec> codec, int threads);
  std::string_view name() const override { return "isal"; }
  int threads() const override { return pool_.threads(); }

  // Tests only: caches the tables of `rows` as if coefficient `cell` (row-major)
  // had its lowest bit flipped, as a corrupted table would be, so that a test
  // can see the known-answer self-test refuse the backend.
  void CorruptCoefficientForTesting(const GfMatrix& rows, std::size_t cell);

 protected:
  Status Apply(const MatrixApply& work) override;

 private:
  static std::string KeyOf(const GfMatrix& rows);
  static std::shared_ptr<const std::vector<unsigned char>> BuildTables(const GfMatrix& rows);
  std::shared_ptr<const std::vector<unsigned char>> TablesFor(const GfMatrix& rows);

  ThreadPool pool_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const std::vector<unsigned char>>> tables_;
};

}  // namespace fls
