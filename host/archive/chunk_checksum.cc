#include "chunk_checksum.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

namespace fls::internal {
namespace {

// The combiner of format 1 spans a whole record (block + CRC), of format 2
// the block alone.
std::uint64_t Span(const Manifest& mf, std::uint64_t block) {
  return mf.chunk_format_version == 1 ? block + kBlockCrcBytes : block;
}

}  // namespace

ChunkChecksummer::ChunkChecksummer(const Manifest& mf)
    : mf_(mf),
      g_(mf.geometry()),
      full_(Span(mf, g_.full_block())),
      last_(Span(mf, g_.last_block())) {}

std::uint32_t ChunkChecksummer::Start(int index) const {
  if (mf_.chunk_format_version != 1) return 0;  // CRC32C of no bytes
  std::uint8_t header[kChunkHeaderBytes];
  EncodeChunkHeader(mf_.HeaderFor(index), header);
  return Crc32c(header, sizeof header);
}

std::uint32_t ChunkChecksummer::Add(std::uint32_t sum, std::uint64_t stripe,
                                    std::uint32_t block_crc) const {
  const Crc32cCombiner& c = g_.block_size(stripe) == g_.full_block() ? full_ : last_;
  if (mf_.chunk_format_version != 1) return c.Combine(sum, block_crc);
  // Format 1 also covers the block's stored CRC, which a writer (or a block
  // that passed its check) holds equal to block_crc.
  std::uint8_t le[kBlockCrcBytes];
  PutLe32(le, block_crc);
  return c.Combine(sum, Crc32c(le, sizeof le, block_crc));
}

ChunkStreamChecksum::ChunkStreamChecksum(const Manifest& mf, int index)
    : g_(mf.geometry()), whole_file_(mf.chunk_format_version == 1) {
  EncodeChunkHeader(mf.HeaderFor(index), header_);
}

void ChunkStreamChecksum::Update(const std::uint8_t* data, std::size_t n) {
  if (whole_file_) {
    crc_ = Crc32c(data, n, crc_);
    pos_ += n;
    return;
  }
  const std::uint64_t end_of_records = g_.chunk_file_bytes();
  const std::uint64_t full_record = g_.full_block() + kBlockCrcBytes;
  while (n > 0) {
    // Bytes past the last record are not covered: a file of the wrong size
    // fails the size check instead.
    std::size_t take = n;
    if (pos_ < kChunkHeaderBytes) {
      take = static_cast<std::size_t>(std::min<std::uint64_t>(n, kChunkHeaderBytes - pos_));
      if (std::memcmp(data, header_ + pos_, take) != 0) intact_ = false;
    } else if (pos_ < end_of_records) {
      const std::uint64_t s = std::min(g_.stripes() - 1, (pos_ - kChunkHeaderBytes) / full_record);
      const std::uint64_t at = pos_ - g_.record_offset(s);
      const std::uint64_t block = g_.block_size(s);
      if (at < block) {
        take = static_cast<std::size_t>(std::min<std::uint64_t>(n, block - at));
        crc_ = Crc32c(data, take, crc_);
        block_crc_ = Crc32c(data, take, block_crc_);
      } else {
        take = static_cast<std::size_t>(std::min<std::uint64_t>(n, block + kBlockCrcBytes - at));
        std::memcpy(stored_ + (at - block), data, take);
        if (at + take == block + kBlockCrcBytes) {
          if (GetLe32(stored_) != block_crc_) intact_ = false;
          block_crc_ = 0;
        }
      }
    }
    data += take;
    n -= take;
    pos_ += take;
  }
}

Status CheckChunkFile(Env* env, const std::string& path, const Manifest& mf, int index) {
  std::unique_ptr<RandomAccessFile> f;
  // A link planted under a chunk's name is refused, never followed, as in
  // every other chunk read (OpenChunkFile).
  FLS_RETURN_IF_ERROR(env->NewRandomAccessFileNoFollow(path, &f, nullptr));
  ChunkStreamChecksum sum(mf, index);
  std::vector<std::uint8_t> buf(1u << 20);
  for (;;) {
    std::size_t got = 0;
    FLS_RETURN_IF_ERROR(f->Read(sum.bytes(), buf.size(), buf.data(), &got));
    if (got == 0) break;
    sum.Update(buf.data(), got);
  }
  if (!sum.Matches(mf.chunks[index]))
    return Status::Corruption(path + " is not chunk " + std::to_string(index) + " of '" + mf.name +
                              "' as its manifest describes it (" + std::to_string(sum.bytes()) +
                              " bytes; header, block CRCs or "
                              "checksum differ)");
  return Status::Ok();
}

}  // namespace fls::internal
