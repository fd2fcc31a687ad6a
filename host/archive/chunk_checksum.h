// The per-chunk checksum a manifest records (ManifestChunk::crc32c), by the
// rule of the object's chunk format (docs/FORMAT.md, section 3):
//
//   format 2   CRC32C of the chunk's block data in stripe order: no header,
//              no block CRCs. Built from the block CRCs with CRC32C combine,
//              so writers and readers that checked each block read nothing
//              twice.
//   format 1   CRC32C of the whole chunk file, header and block CRCs
//              included. (A CRC over data followed by its own CRC is a
//              constant, so this value is the same for every chunk of one
//              geometry: kept only to check version-1 objects as written.)
//
// Thread-safety: ChunkChecksummer is immutable once built and may be shared;
// ChunkStreamChecksum belongs to one caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "fls/chunk_format.h"
#include "fls/crc32c.h"
#include "fls/env.h"
#include "fls/geometry.h"
#include "fls/manifest.h"
#include "fls/status.h"

namespace fls::internal {

// Folds block CRCs into chunk checksums; one per object, shared by all of
// its chunks (a chunk's running value is a plain uint32_t of the caller's).
class ChunkChecksummer {
 public:
  explicit ChunkChecksummer(const Manifest& mf);
  // The checksum of chunk `index` before any block.
  std::uint32_t Start(int index) const;
  // `sum` extended by the block of stripe `stripe` whose CRC32C is
  // `block_crc` (blocks are added in stripe order).
  std::uint32_t Add(std::uint32_t sum, std::uint64_t stripe, std::uint32_t block_crc) const;

 private:
  Manifest mf_;
  StripeGeometry g_;
  Crc32cCombiner full_, last_;  // over one full / last block (v1: record)
};

// The checksum of chunk `index` of `mf` read as raw file bytes, in order from
// offset 0 (a copy in rebalance, a check in cleanup). For format 2, whose
// checksum leaves the header and the block CRCs out, it also checks those:
// intact() says the header is the one the manifest implies and every block
// matches its CRC.
class ChunkStreamChecksum {
 public:
  ChunkStreamChecksum(const Manifest& mf, int index);
  void Update(const std::uint8_t* data, std::size_t n);
  std::uint32_t value() const { return crc_; }
  std::uint64_t bytes() const { return pos_; }
  bool intact() const { return intact_; }
  // value(), bytes() and intact() agree with the manifest.
  bool Matches(const ManifestChunk& c) const {
    return intact_ && crc_ == c.crc32c && pos_ == c.bytes;
  }

 private:
  StripeGeometry g_;
  bool whole_file_;
  std::uint8_t header_[kChunkHeaderBytes];  // the header the manifest implies
  std::uint32_t crc_ = 0;
  std::uint64_t pos_ = 0;
  bool intact_ = true;
  std::uint32_t block_crc_ = 0;               // of the block being read
  std::uint8_t stored_[kBlockCrcBytes] = {};  // its stored CRC, as it comes
};

// Reads the file at `path` as chunk `index` of `mf`: OK when it matches the
// manifest (ChunkStreamChecksum::Matches), else Corruption saying why.
Status CheckChunkFile(Env* env, const std::string& path, const Manifest& mf, int index);

}  // namespace fls::internal
