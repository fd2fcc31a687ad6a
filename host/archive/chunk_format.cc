#include "fls/chunk_format.h"

#include <cstring>
#include <random>

#include "fls/codec.h"
#include "fls/crc32c.h"

namespace fls {
namespace {

void PutLe16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
void PutLe64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint16_t GetLe16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
std::uint64_t GetLe64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

// Field offsets (docs/FORMAT.md, "Chunk header").
constexpr std::size_t kOffMagic = 0, kOffVersion = 8, kOffHeaderBytes = 10, kOffFlags = 12,
                      kOffObjectId = 16, kOffIndex = 32, kOffK = 34, kOffM = 36, kOffMatrix = 38,
                      kOffReserved1 = 39, kOffStripeWidth = 40, kOffBlockSize = 48,
                      kOffFileSize = 56, kOffStripeCount = 64, kOffLastBlock = 72,
                      kOffReserved2 = 80, kOffHeaderCrc = 124;

}  // namespace

std::string ObjectIdToHex(const ObjectId& id) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::uint8_t b : id) {
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}

Status ObjectIdFromHex(const std::string& hex, ObjectId* id) {
  if (hex.size() != 32)
    return Status::InvalidArgument("object id '" + hex + "' is not 32 hex digits");
  for (std::size_t i = 0; i < 16; ++i) {
    int v = 0;
    for (int j = 0; j < 2; ++j) {
      const char c = hex[2 * i + j];
      int d;
      if (c >= '0' && c <= '9')
        d = c - '0';
      else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
      else
        return Status::InvalidArgument("object id '" + hex + "' is not 32 hex digits");
      v = v * 16 + d;
    }
    (*id)[i] = static_cast<std::uint8_t>(v);
  }
  return Status::Ok();
}

ObjectId RandomObjectId() {
  std::random_device rd;
  ObjectId id;
  for (std::size_t i = 0; i < id.size(); i += 4) {
    const std::uint32_t r = rd();
    std::memcpy(id.data() + i, &r, 4);
  }
  return id;
}

Status ValidateChunkHeader(const ChunkHeader& h) {
  if (h.format_version != 1 && h.format_version != 2)
    return Status::Corruption("chunk header: unsupported format version " +
                              std::to_string(h.format_version) + " (this fls reads 1 and 2)");
  if (h.k < 1 || h.m < 1 || h.k + h.m > kMaxShards)
    return Status::Corruption("chunk header: k=" + std::to_string(h.k) + " m=" +
                              std::to_string(h.m) + " out of range (k, m >= 1, k + m <= 256)");
  if (h.chunk_index >= h.k + h.m)
    return Status::Corruption("chunk header: chunk index " + std::to_string(h.chunk_index) +
                              " not below k + m = " + std::to_string(h.k + h.m));
  if (h.matrix != MatrixKind::kCauchy && h.matrix != MatrixKind::kVandermonde)
    return Status::Corruption("chunk header: unknown matrix kind " +
                              std::to_string(static_cast<int>(h.matrix)));
  if (h.block_size < 1 || h.block_size > (std::uint64_t{1} << 32))
    return Status::Corruption("chunk header: block size " + std::to_string(h.block_size) +
                              " out of range (1 B .. 4 GiB)");
  if (h.stripe_width != h.block_size * h.k)
    return Status::Corruption("chunk header: stripe width " + std::to_string(h.stripe_width) +
                              " is not k * block size = " + std::to_string(h.block_size * h.k));
  if (h.file_size > (std::uint64_t{1} << 60))
    return Status::Corruption("chunk header: file size " + std::to_string(h.file_size) +
                              " out of range");
  const std::uint64_t stripes = (h.file_size + h.stripe_width - 1) / h.stripe_width;
  if (h.stripe_count != stripes)
    return Status::Corruption("chunk header: stripe count " + std::to_string(h.stripe_count) +
                              " does not match file size " + std::to_string(h.file_size) +
                              " (expected " + std::to_string(stripes) + ")");
  if (h.format_version >= 2) {
    const std::uint64_t last = h.geometry().last_block();
    if (h.last_block_size != last)
      return Status::Corruption("chunk header: last block size " +
                                std::to_string(h.last_block_size) + " does not match file size " +
                                std::to_string(h.file_size) + " (expected " + std::to_string(last) +
                                ")");
  }
  return Status::Ok();
}

void EncodeChunkHeader(const ChunkHeader& h, std::uint8_t out[kChunkHeaderBytes]) {
  std::memset(out, 0, kChunkHeaderBytes);
  std::memcpy(out + kOffMagic, kChunkMagic, 8);
  PutLe16(out + kOffVersion, h.format_version);
  PutLe16(out + kOffHeaderBytes, kChunkHeaderBytes);
  PutLe32(out + kOffFlags, 0);
  std::memcpy(out + kOffObjectId, h.object_id.data(), 16);
  PutLe16(out + kOffIndex, h.chunk_index);
  PutLe16(out + kOffK, h.k);
  PutLe16(out + kOffM, h.m);
  out[kOffMatrix] = static_cast<std::uint8_t>(h.matrix);
  out[kOffReserved1] = 0;
  PutLe64(out + kOffStripeWidth, h.stripe_width);
  PutLe64(out + kOffBlockSize, h.block_size);
  PutLe64(out + kOffFileSize, h.file_size);
  PutLe64(out + kOffStripeCount, h.stripe_count);
  if (h.format_version >= 2) PutLe64(out + kOffLastBlock, h.last_block_size);
  PutLe32(out + kOffHeaderCrc, Crc32c(out, kOffHeaderCrc));
}

Status DecodeChunkHeader(const std::uint8_t* data, std::size_t n, ChunkHeader* h) {
  if (n < kChunkHeaderBytes)
    return Status::Corruption("chunk header: truncated (" + std::to_string(n) + " of " +
                              std::to_string(kChunkHeaderBytes) + " bytes)");
  if (std::memcmp(data + kOffMagic, kChunkMagic, 8) != 0)
    return Status::Corruption("chunk header: bad magic (not an fls chunk file)");
  const std::uint16_t version = GetLe16(data + kOffVersion);
  if (version != 1 && version != 2)
    return Status::Corruption("chunk header: unsupported format version " +
                              std::to_string(version) + " (this fls reads versions 1 and 2)");
  const std::uint16_t header_bytes = GetLe16(data + kOffHeaderBytes);
  if (header_bytes != kChunkHeaderBytes)
    return Status::Corruption("chunk header: header size " + std::to_string(header_bytes) +
                              " is not 128");
  const std::uint32_t stored_crc = GetLe32(data + kOffHeaderCrc);
  const std::uint32_t crc = Crc32c(data, kOffHeaderCrc);
  if (stored_crc != crc) return Status::Corruption("chunk header: header checksum mismatch");
  if (GetLe32(data + kOffFlags) != 0 || data[kOffReserved1] != 0)
    return Status::Corruption("chunk header: reserved flags are not zero");
  // Version 1 reserved the bytes that version 2 holds last_block_size in.
  for (std::size_t i = version == 1 ? kOffLastBlock : kOffReserved2; i < kOffHeaderCrc; ++i)
    if (data[i] != 0) return Status::Corruption("chunk header: reserved bytes are not zero");
  ChunkHeader out;
  out.format_version = version;
  std::memcpy(out.object_id.data(), data + kOffObjectId, 16);
  out.chunk_index = GetLe16(data + kOffIndex);
  out.k = GetLe16(data + kOffK);
  out.m = GetLe16(data + kOffM);
  out.matrix = static_cast<MatrixKind>(data[kOffMatrix]);
  out.stripe_width = GetLe64(data + kOffStripeWidth);
  out.block_size = GetLe64(data + kOffBlockSize);
  out.file_size = GetLe64(data + kOffFileSize);
  out.stripe_count = GetLe64(data + kOffStripeCount);
  if (version >= 2) out.last_block_size = GetLe64(data + kOffLastBlock);
  FLS_RETURN_IF_ERROR(ValidateChunkHeader(out));
  *h = out;
  return Status::Ok();
}

}  // namespace fls
