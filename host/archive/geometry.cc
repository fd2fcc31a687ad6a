#include "fls/geometry.h"

#include <algorithm>

namespace fls {

StripeGeometry::StripeGeometry(int k, std::uint64_t block, std::uint64_t size, bool uniform)
    : k_(std::max(k, 1)), block_(block), size_(size), uniform_(uniform) {
  const std::uint64_t w = stripe_width();
  stripes_ = w == 0 ? 0 : (size + w - 1) / w;
  if (stripes_ == 0) return;
  if (uniform) {
    last_block_ = block_;
    return;
  }
  const std::uint64_t rest = size - (stripes_ - 1) * w;
  const std::uint64_t need = (rest + k_ - 1) / k_;
  const std::uint64_t aligned = (need + kLastBlockAlign - 1) / kLastBlockAlign * kLastBlockAlign;
  last_block_ = std::min(aligned, block_);
}

StripeGeometry StripeGeometry::Sized(int k, std::uint64_t block, std::uint64_t file_size) {
  return StripeGeometry(k, block, file_size, false);
}

StripeGeometry StripeGeometry::Uniform(int k, std::uint64_t block, std::uint64_t file_size) {
  return StripeGeometry(k, block, file_size, true);
}

StripeGeometry StripeGeometry::ForChunkFormat(int chunk_format_version, int k, std::uint64_t block,
                                              std::uint64_t file_size) {
  return StripeGeometry(k, block, file_size, chunk_format_version == 1);
}

std::uint64_t StripeGeometry::stripe_bytes(std::uint64_t s) const {
  if (s >= stripes_) return 0;
  return std::min(stripe_width(), size_ - stripe_offset(s));
}

ByteRange StripeGeometry::data_block_range(std::uint64_t s, int j) const {
  const std::uint64_t b = block_size(s);
  const std::uint64_t begin = std::min(size_, stripe_offset(s) + static_cast<std::uint64_t>(j) * b);
  return {begin, std::min(size_, begin + b)};
}

std::uint64_t StripeGeometry::chunk_file_bytes() const {
  if (stripes_ == 0) return kChunkHeaderBytes;
  return record_offset(stripes_ - 1) + last_block_ + kBlockCrcBytes;
}

std::uint64_t StripeGeometry::uniform_run(std::uint64_t first, std::uint64_t max) const {
  if (first >= stripes_ || max == 0) return 0;
  const std::uint64_t n = std::min(max, stripes_ - first);
  // Only the last stripe can differ; it stays out of a run of full stripes.
  if (last_block_ != block_ && first + n == stripes_ && n > 1) return n - 1;
  return n;
}

}  // namespace fls
