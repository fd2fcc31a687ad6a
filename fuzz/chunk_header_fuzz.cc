// libFuzzer target: DecodeChunkHeader on arbitrary bytes (a chunk file's
// first 128 bytes come from disk and may be anything). A header that decodes
// must re-encode to the same bytes and describe a consistent layout.
#include <cstdint>
#include <cstring>

#include "fls/chunk_format.h"
#include "fls/crc32c.h"
#include "fuzz_util.h"

namespace {

void DecodeOne(const std::uint8_t* data, std::size_t size) {
  fls::ChunkHeader h;
  const fls::Status s = fls::DecodeChunkHeader(data, size, &h);
  if (!s.ok()) {
    FLS_FUZZ_CHECK(!s.ToString().empty());
    return;
  }
  FLS_FUZZ_CHECK(size >= fls::kChunkHeaderBytes);
  FLS_FUZZ_CHECK(fls::ValidateChunkHeader(h).ok());
  std::uint8_t again[fls::kChunkHeaderBytes];
  fls::EncodeChunkHeader(h, again);
  FLS_FUZZ_CHECK(std::memcmp(again, data, fls::kChunkHeaderBytes) == 0);
  // The layout arithmetic must not overflow for an accepted header.
  const fls::StripeGeometry g = h.geometry();
  FLS_FUZZ_CHECK(g.chunk_file_bytes() >= fls::kChunkHeaderBytes);
  FLS_FUZZ_CHECK(g.last_block() <= g.full_block());
  FLS_FUZZ_CHECK(g.stripes() == 0 ||
                 g.record_offset(g.stripes() - 1) + g.record_bytes(g.stripes() - 1) ==
                     g.chunk_file_bytes());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  DecodeOne(data, size);
  // Again with the header CRC (bytes 124..127) made right, so that mutations
  // of the fields reach the checks behind the checksum.
  if (size >= fls::kChunkHeaderBytes) {
    std::uint8_t fixed[fls::kChunkHeaderBytes];
    std::memcpy(fixed, data, sizeof fixed);
    fls::PutLe32(fixed + 124, fls::Crc32c(fixed, 124));
    DecodeOne(fixed, sizeof fixed);
  }
  return 0;
}
