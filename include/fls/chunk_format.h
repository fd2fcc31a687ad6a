// Chunk format v2 (v1 still read): the file one shard of an object is
// stored in. docs/FORMAT.md specifies it byte by byte; in short:
//
//   offset 0    header, 128 bytes, little-endian, ends with its own CRC32C
//   offset 128  stripe 0: block (block_size bytes) + CRC32C of the block (4)
//               stripe 1: block + CRC32C
//               ...
//               last stripe: block (last_block_size bytes) + CRC32C
//
// Version 2 sizes the last stripe's block to its bytes (fls/geometry.h);
// version 1 used block_size for it too. Keeping each CRC beside its block
// lets writers append in one pass with bounded memory and lets a range read
// fetch a block and its checksum in one read.
//
// Thread-safety: pure functions on values.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fls/geometry.h"
#include "fls/matrix.h"
#include "fls/status.h"

namespace fls {

// The version written; DecodeChunkHeader also accepts version 1.
inline constexpr std::uint16_t kChunkFormatVersion = 2;
inline constexpr char kChunkMagic[8] = {'F', 'L', 'S', 'C', 'H', 'U', 'N', 'K'};

using ObjectId = std::array<std::uint8_t, 16>;

std::string ObjectIdToHex(const ObjectId& id);
// InvalidArgument unless `hex` is 32 hex digits.
Status ObjectIdFromHex(const std::string& hex, ObjectId* id);
ObjectId RandomObjectId();

struct ChunkHeader {
  std::uint16_t format_version = kChunkFormatVersion;  // 1 or 2
  ObjectId object_id{};
  std::uint16_t chunk_index = 0;
  std::uint16_t k = 0;
  std::uint16_t m = 0;
  MatrixKind matrix = MatrixKind::kCauchy;
  std::uint64_t stripe_width = 0;  // data bytes per stripe = k * block_size
  std::uint64_t block_size = 0;
  std::uint64_t file_size = 0;
  std::uint64_t stripe_count = 0;  // ceil(file_size / stripe_width)
  // Version 2: the last stripe's block (0 for an empty file). Version 1 has
  // no such field: its last block is block_size.
  std::uint64_t last_block_size = 0;

  // Where each stripe's block lies in the chunk file (valid once the header
  // passed ValidateChunkHeader).
  StripeGeometry geometry() const {
    return StripeGeometry::ForChunkFormat(format_version, k, block_size, file_size);
  }
};

// Checks the fields agree with each other: version 1 or 2, k, m in range,
// index < k + m, stripe_width = k * block_size, stripe_count matches
// file_size, (v2) last_block_size is the geometry's last block.
// Corruption naming the first field at fault.
Status ValidateChunkHeader(const ChunkHeader& h);

// Writes exactly kChunkHeaderBytes bytes (header CRC included) in
// h.format_version's layout (version 1 leaves last_block_size out).
void EncodeChunkHeader(const ChunkHeader& h, std::uint8_t out[kChunkHeaderBytes]);

// Parses and checks a header of version 1 or 2: magic, version, header size,
// reserved bytes, header CRC, then ValidateChunkHeader. Corruption naming what is wrong;
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
