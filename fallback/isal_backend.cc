#include "isal_backend.h"

#include <isa-l/erasure_code.h>

#include <array>

namespace fls {
namespace {
constexpr std::size_t kMaxCachedTables = 4096;
}

IsalBackend::IsalBackend(std::shared_ptr<const Codec> codec, int threads)
    : Backend(std::move(codec)), pool_(threads) {}

std::string IsalBackend::KeyOf(const GfMatrix& rows) {
  std::string key(rows.cells().begin(), rows.cells().end());
  key.push_back(static_cast<char>(rows.rows()));  // r x k with equal cells differ by shape
  return key;
}

std::shared_ptr<const std::vector<unsigned char>> IsalBackend::BuildTables(const GfMatrix& rows) {
  auto tables = std::make_shared<std::vector<unsigned char>>(32 * rows.rows() * rows.cols());
  ec_init_tables(static_cast<int>(rows.cols()), static_cast<int>(rows.rows()),
                 const_cast<unsigned char*>(rows.cells().data()), tables->data());
  return tables;
}

std::shared_ptr<const std::vector<unsigned char>> IsalBackend::TablesFor(const GfMatrix& rows) {
  std::string key = KeyOf(rows);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tables_.find(key);
  if (it != tables_.end()) return it->second;
  auto tables = BuildTables(rows);
  if (tables_.size() >= kMaxCachedTables) tables_.clear();
  tables_.emplace(std::move(key), tables);
  return tables;
}

void IsalBackend::CorruptCoefficientForTesting(const GfMatrix& rows, std::size_t cell) {
  GfMatrix corrupt = rows;
  corrupt.at(cell / rows.cols(), cell % rows.cols()) ^= 1;
  std::lock_guard<std::mutex> lock(mu_);
  tables_[KeyOf(rows)] = BuildTables(corrupt);
}

Status IsalBackend::Apply(const MatrixApply& w) {
  const auto tables = TablesFor(*w.rows);
  const int k = static_cast<int>(w.rows->cols()), r = static_cast<int>(w.rows->rows());
  ForEachStripePiece(
      pool_, w.stripes, w.block_bytes, [&](std::size_t s, std::size_t offset, std::size_t len) {
        std::array<unsigned char*, kMaxShards> in, out;
        for (int j = 0; j < k; ++j)
          in[j] = const_cast<unsigned char*>(w.inputs[s * k + j]) + offset;
        for (int i = 0; i < r; ++i) out[i] = w.outputs[s * r + i] + offset;
        ec_encode_data(static_cast<int>(len), k, r, const_cast<unsigned char*>(tables->data()),
                       in.data(), out.data());
      });
  return Status::Ok();
}

}  // namespace fls
