// StripeGeometry: where every byte of an archived file lives, in its stripes
// and in its chunk files (docs/FORMAT.md, section 1). The one place that does
// this arithmetic: archive, restore and --range, verify, repair, sweeps,
// rebalance and the benches all ask it.
//
//   stripe s < S-1   file bytes [s*W, (s+1)*W), k data blocks of B = W/k
//   stripe S-1       the rest of the file, k data blocks of `last_block`:
//                    v2: the smallest multiple of 64 bytes that holds
//                    ceil(rest / k) (never above B); v1: B, padding stored
//   chunk file       128-byte header, then per stripe its block + CRC32C
//
// So a file of s bytes costs about s * (k + m) / k on the targets, not a whole
// stripe of padding.
//
// Thread-safety: an immutable value.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fls {

// The last block of a version-2 object is a multiple of this (the coding
// kernels work in 64-byte vectors).
inline constexpr std::uint64_t kLastBlockAlign = 64;
inline constexpr std::size_t kChunkHeaderBytes = 128;  // chunk header

inline constexpr std::size_t kBlockCrcBytes = 4;  // CRC32C after each block

struct ByteRange {
  std::uint64_t begin = 0, end = 0;  // [begin, end)
  std::uint64_t size() const { return end - begin; }
};

class StripeGeometry {
 public:
  StripeGeometry() = default;
  // Version 2: the last stripe sized to its bytes.
  static StripeGeometry Sized(int k, std::uint64_t block, std::uint64_t file_size);
  // Version 1: every stripe, the last one too, uses `block`.
  static StripeGeometry Uniform(int k, std::uint64_t block, std::uint64_t file_size);
  // Uniform for chunk format version 1, Sized otherwise.
  static StripeGeometry ForChunkFormat(int chunk_format_version, int k, std::uint64_t block,
                                       std::uint64_t file_size);

  int k() const { return k_; }
  std::uint64_t full_block() const { return block_; }         // B
  std::uint64_t stripe_width() const { return block_ * k_; }  // W = k * B
  std::uint64_t file_size() const { return size_; }
  std::uint64_t stripes() const { return stripes_; }  // S; 0 for an empty file
  // The block of the last stripe; 0 for an empty file.
  std::uint64_t last_block() const { return last_block_; }
  bool uniform_last_block() const { return uniform_; }

  // Block bytes of stripe s (every data and parity block of that stripe).
  std::uint64_t block_size(std::uint64_t s) const {
    return s + 1 == stripes_ ? last_block_ : block_;
  }
  // File offset of stripe s's first byte.
  std::uint64_t stripe_offset(std::uint64_t s) const { return s * stripe_width(); }
  // Real file bytes in stripe s (the rest of its k blocks is zero padding).
  std::uint64_t stripe_bytes(std::uint64_t s) const;
  // The file bytes data block j of stripe s holds; the block's bytes after
  // range.size() are zero padding (the whole block when the range is empty).
  ByteRange data_block_range(std::uint64_t s, int j) const;
  // The stripe holding file offset `offset` (< file_size()).
  std::uint64_t stripe_of(std::uint64_t offset) const { return offset / stripe_width(); }

  // Offset of stripe s's block in a chunk file; its CRC32C follows the block.
  std::uint64_t record_offset(std::uint64_t s) const {
    return kChunkHeaderBytes + s * (block_ + kBlockCrcBytes);
  }
  std::uint64_t record_bytes(std::uint64_t s) const { return block_size(s) + kBlockCrcBytes; }
  // Bytes of each chunk file: header + every record.
  std::uint64_t chunk_file_bytes() const;

  // How many of the stripes [first, first + max) share stripe first's block
  // size (at least 1 when first < stripes()): a backend call takes one block
  // size, so a stripe batch never mixes them.
  std::uint64_t uniform_run(std::uint64_t first, std::uint64_t max) const;

 private:
  StripeGeometry(int k, std::uint64_t block, std::uint64_t size, bool uniform);
  int k_ = 1;
  std::uint64_t block_ = 0, size_ = 0, stripes_ = 0, last_block_ = 0;
  bool uniform_ = false;
};

}  // namespace fls
