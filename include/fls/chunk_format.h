// Chunk format v1: the file one shard of an object is stored in.
// docs/FORMAT.md specifies it byte by byte; in short:
//
//   offset 0    header, 128 bytes, little-endian, ends with its own CRC32C
//   offset 128  stripe 0: block (block_size bytes) + CRC32C of the block (4)
//               stripe 1: block + CRC32C
//               ...  (stripe_count records of block_size + 4 bytes)
//
// So a chunk file is exactly 128 + stripe_count * (block_size + 4) bytes, and
// the block of stripe s starts at 128 + s * (block_size + 4). Keeping each
// CRC beside its block lets writers append in one pass with bounded memory
// and lets a range read fetch a block and its checksum in one read.
//
// Thread-safety: pure functions on values.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fls/matrix.h"
#include "fls/status.h"

namespace fls {

inline constexpr std::size_t kChunkHeaderBytes = 128;
inline constexpr std::size_t kBlockCrcBytes = 4;
inline constexpr std::uint16_t kChunkFormatVersion = 1;
inline constexpr char kChunkMagic[8] = {'F', 'L', 'S', 'C', 'H', 'U', 'N', 'K'};

using ObjectId = std::array<std::uint8_t, 16>;

std::string ObjectIdToHex(const ObjectId& id);
// InvalidArgument unless `hex` is 32 hex digits.
Status ObjectIdFromHex(const std::string& hex, ObjectId* id);
ObjectId RandomObjectId();

struct ChunkHeader {
  ObjectId object_id{};
  std::uint16_t chunk_index = 0;
  std::uint16_t k = 0;
  std::uint16_t m = 0;
  MatrixKind matrix = MatrixKind::kCauchy;
  std::uint64_t stripe_width = 0;  // data bytes per stripe = k * block_size
  std::uint64_t block_size = 0;
  std::uint64_t file_size = 0;
  std::uint64_t stripe_count = 0;  // ceil(file_size / stripe_width)

  // Bytes of the whole chunk file this header describes.
  std::uint64_t ChunkFileBytes() const {
    return kChunkHeaderBytes + stripe_count * (block_size + kBlockCrcBytes);
  }
  // Offset of stripe s's block (its CRC follows at + block_size).
  std::uint64_t BlockOffset(std::uint64_t stripe) const {
    return kChunkHeaderBytes + stripe * (block_size + kBlockCrcBytes);
  }
};

// Checks the fields agree with each other: k, m in range, index < k + m,
// stripe_width = k * block_size, stripe_count matches file_size.
// Corruption naming the first field at fault.
Status ValidateChunkHeader(const ChunkHeader& h);

// Writes exactly kChunkHeaderBytes bytes (header CRC included).
void EncodeChunkHeader(const ChunkHeader& h, std::uint8_t out[kChunkHeaderBytes]);

// Parses and checks a header: magic, version, header size, reserved bytes,
// header CRC, then ValidateChunkHeader. Corruption naming what is wrong;
// never reads past `n` (a short buffer is "truncated header").
Status DecodeChunkHeader(const std::uint8_t* data, std::size_t n, ChunkHeader* h);

// Little-endian helpers shared by the format code.
inline void PutLe32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline std::uint32_t GetLe32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace fls
