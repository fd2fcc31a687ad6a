// StripeGeometry (fls/geometry.h), the per-chunk checksums
// (host/archive/chunk_checksum.h) and object names (ValidateObjectName).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "archive_test_util.h"
#include "fls/archive.h"
#include "fls/chunk_format.h"
#include "fls/crc32c.h"
#include "fls/geometry.h"
#include "fls/manifest.h"
#include "host/archive/chunk_checksum.h"

namespace fls {
namespace {

constexpr std::uint64_t kMiB = 1 << 20;

// Every byte of the file is in exactly one data block, in file order, and
// what a block holds beyond its range is padding.
void ExpectCoversFile(const StripeGeometry& g) {
  std::uint64_t next = 0;
  for (std::uint64_t s = 0; s < g.stripes(); ++s) {
    EXPECT_EQ(g.stripe_offset(s), next) << "stripe " << s;
    std::uint64_t in_stripe = 0;
    for (int j = 0; j < g.k(); ++j) {
      const ByteRange r = g.data_block_range(s, j);
      EXPECT_EQ(r.begin, next) << "stripe " << s << " block " << j;
      EXPECT_LE(r.size(), g.block_size(s)) << "stripe " << s << " block " << j;
      // Only the last blocks of the last stripe hold less than a block.
      if (r.end < g.file_size()) EXPECT_EQ(r.size(), g.block_size(s));
      next = r.end;
      in_stripe += r.size();
    }
    EXPECT_EQ(in_stripe, g.stripe_bytes(s)) << "stripe " << s;
    if (s + 1 < g.stripes()) EXPECT_EQ(g.stripe_of(g.stripe_offset(s + 1) - 1), s);
  }
  EXPECT_EQ(next, g.file_size());
}

TEST(StripeGeometry, LastStripeUsesTheSmallestAlignedBlock) {
  const int k = 10;
  const std::uint64_t B = kMiB;
  struct Case {
    std::uint64_t size, stripes, last;
  } cases[] = {
      {0, 0, 0},
      {1, 1, 64},
      {640, 1, 64},
      {641, 1, 128},
      {50 * 1000, 1, 5056},  // ceil(50000 / 10) = 5000 -> 5056
      {kMiB, 1, 104896},     // ceil(1048576 / 10) = 104858 -> 104896
      {kMiB + 1, 1, 104896},
      {3 * kMiB, 1, 314624},  // 314573 -> 314624
      {10 * kMiB, 1, kMiB},
      {10 * kMiB + 1, 2, 64},
      {100 * kMiB + 1, 11, 64},
      {10 * kMiB - 1, 1, kMiB},  // 1048576 after rounding: never above B
  };
  for (const Case& c : cases) {
    const StripeGeometry g = StripeGeometry::Sized(k, B, c.size);
    EXPECT_EQ(g.stripes(), c.stripes) << c.size;
    EXPECT_EQ(g.last_block(), c.last) << c.size;
    EXPECT_EQ(g.stripe_width(), 10 * kMiB);
    EXPECT_FALSE(g.uniform_last_block());
    const std::uint64_t file_bytes =
        c.stripes == 0 ? 128 : 128 + (c.stripes - 1) * (B + 4) + c.last + 4;
    EXPECT_EQ(g.chunk_file_bytes(), file_bytes) << c.size;
    if (c.stripes > 0) {
      EXPECT_EQ(g.last_block() % kLastBlockAlign == 0 || g.last_block() == B, true);
      EXPECT_GE(g.last_block() * k, g.stripe_bytes(g.stripes() - 1)) << c.size;
      EXPECT_EQ(g.block_size(g.stripes() - 1), c.last);
      EXPECT_EQ(g.record_offset(g.stripes() - 1) + g.record_bytes(g.stripes() - 1), file_bytes);
    }
    ExpectCoversFile(g);
  }
}

TEST(StripeGeometry, VersionOneIsUniform) {
  const StripeGeometry g = StripeGeometry::Uniform(10, 1000, 25001);
  EXPECT_TRUE(g.uniform_last_block());
  EXPECT_EQ(g.stripes(), 3u);
  EXPECT_EQ(g.last_block(), 1000u);
  EXPECT_EQ(g.chunk_file_bytes(), 128u + 3 * 1004);
  EXPECT_EQ(g.uniform_run(0, 100), 3u);
  ExpectCoversFile(g);
  EXPECT_EQ(StripeGeometry::ForChunkFormat(1, 10, 1000, 25001).last_block(), 1000u);
  EXPECT_EQ(StripeGeometry::ForChunkFormat(2, 10, 1000, 25001).last_block(), 512u);
  EXPECT_EQ(StripeGeometry::Uniform(10, 1000, 0).chunk_file_bytes(), 128u);
}

TEST(StripeGeometry, OddShapesCoverEveryByte) {
  std::mt19937_64 rng(5);
  for (int round = 0; round < 300; ++round) {
    const int k = 1 + static_cast<int>(rng() % 20);
    const std::uint64_t B = 1 + rng() % 5000;
    const std::uint64_t size = rng() % (B * k * 4 + 3);
    const StripeGeometry g = StripeGeometry::Sized(k, B, size);
    ASSERT_LE(g.last_block(), B);
    if (g.stripes() > 0) ASSERT_GE(g.last_block() * k, g.stripe_bytes(g.stripes() - 1));
    ExpectCoversFile(g);
  }
}

TEST(StripeGeometry, RunsNeverMixBlockSizes) {
  const StripeGeometry g = StripeGeometry::Sized(10, 1000, 5 * 10000 + 77);  // 6 stripes
  ASSERT_EQ(g.stripes(), 6u);
  EXPECT_EQ(g.uniform_run(0, 100), 5u);  // the short last stripe stays out
  EXPECT_EQ(g.uniform_run(0, 3), 3u);
  EXPECT_EQ(g.uniform_run(3, 3), 2u);
  EXPECT_EQ(g.uniform_run(5, 3), 1u);
  EXPECT_EQ(g.uniform_run(6, 3), 0u);
  // A last stripe that is full joins the run.
  EXPECT_EQ(StripeGeometry::Sized(10, 1000, 50000).uniform_run(0, 100), 5u);
  // One stripe only: a run of one.
  EXPECT_EQ(StripeGeometry::Sized(10, 1000, 5).uniform_run(0, 100), 1u);
}

// A small object's chunk, built by hand: header, then per stripe the block
// and its CRC.
struct HandChunk {
  Manifest mf;
  std::string file;
  std::string data;  // the block bytes only, in stripe order
};

HandChunk MakeChunk(int format, std::uint64_t size, std::uint64_t seed) {
  HandChunk c;
  Manifest& m = c.mf;
  m.format_version = m.chunk_format_version = format;
  m.name = "x";
  m.k = 4;
  m.m = 2;
  m.block_size = 1000;
  m.stripe_width = 4000;
  m.size = size;
  const StripeGeometry g = m.geometry();
  m.stripes = g.stripes();
  m.last_block_size = format == 1 ? 0 : g.last_block();
  std::uint8_t header[kChunkHeaderBytes];
  EncodeChunkHeader(m.HeaderFor(1), header);
  c.file.assign(reinterpret_cast<char*>(header), sizeof header);
  for (std::uint64_t s = 0; s < g.stripes(); ++s) {
    const std::string block = testing::RandomBytes(g.block_size(s), seed * 1000 + s);
    std::uint8_t crc[4];
    PutLe32(crc, Crc32c(block.data(), block.size()));
    c.file += block + std::string(reinterpret_cast<char*>(crc), 4);
    c.data += block;
  }
  return c;
}

TEST(ChunkChecksum, FormatTwoCoversTheBlockDataOnly) {
  for (std::uint64_t size : {0ull, 1ull, 3999ull, 4000ull, 4001ull, 9000ull, 12000ull}) {
    const HandChunk c = MakeChunk(2, size, size);
    const std::uint32_t want = Crc32c(c.data.data(), c.data.size());
    const internal::ChunkChecksummer sums(c.mf);
    const StripeGeometry g = c.mf.geometry();
    std::uint32_t sum = sums.Start(1);
    for (std::uint64_t s = 0; s < g.stripes(); ++s)
      sum = sums.Add(sum, s,
                     GetLe32(reinterpret_cast<const std::uint8_t*>(
                         c.file.data() + g.record_offset(s) + g.block_size(s))));
    EXPECT_EQ(sum, want) << size;
    // The raw-file form, fed in awkward pieces, agrees and checks the rest.
    for (std::size_t piece : {1u, 3u, 1001u, 1u << 20}) {
      internal::ChunkStreamChecksum stream(c.mf, 1);
      for (std::size_t at = 0; at < c.file.size(); at += piece)
        stream.Update(reinterpret_cast<const std::uint8_t*>(c.file.data()) + at,
                      std::min(piece, c.file.size() - at));
      EXPECT_EQ(stream.value(), want) << size << " piece " << piece;
      EXPECT_EQ(stream.bytes(), g.chunk_file_bytes());
      EXPECT_TRUE(stream.intact()) << size << " piece " << piece;
    }
  }
}

TEST(ChunkChecksum, DiffersBetweenChunksAndCatchesRewrittenBlocks) {
  const HandChunk a = MakeChunk(2, 9000, 1), b = MakeChunk(2, 9000, 2);
  auto stream = [](const HandChunk& c, const std::string& file) {
    internal::ChunkStreamChecksum s(c.mf, 1);
    s.Update(reinterpret_cast<const std::uint8_t*>(file.data()), file.size());
    return s;
  };
  // Version 1's whole-file CRC was one constant per geometry; this is not.
  EXPECT_NE(stream(a, a.file).value(), stream(b, b.file).value());
  // A block byte flipped: the block's CRC no longer matches.
  std::string flipped = a.file;
  const StripeGeometry g = a.mf.geometry();
  flipped[g.record_offset(1) + 10] ^= 1;
  EXPECT_FALSE(stream(a, flipped).intact());
  EXPECT_NE(stream(a, flipped).value(), stream(a, a.file).value());
  // ... and with the block's CRC rewritten to match: intact blocks, but the
  // chunk checksum differs.
  const std::uint32_t fixed = Crc32c(flipped.data() + g.record_offset(1), g.block_size(1));
  PutLe32(reinterpret_cast<std::uint8_t*>(flipped.data()) + g.record_offset(1) + g.block_size(1),
          fixed);
  EXPECT_TRUE(stream(a, flipped).intact());
  EXPECT_NE(stream(a, flipped).value(), stream(a, a.file).value());
  // A stored block CRC damaged alone, and a header changed: not intact.
  std::string crc_hit = a.file;
  crc_hit[g.record_offset(0) + g.block_size(0)] ^= 1;
  EXPECT_FALSE(stream(a, crc_hit).intact());
  EXPECT_EQ(stream(a, crc_hit).value(), stream(a, a.file).value());
  std::string header_hit = a.file;
  header_hit[40] ^= 1;
  EXPECT_FALSE(stream(a, header_hit).intact());
}

TEST(ChunkChecksum, FormatOneIsTheWholeFileCrc) {
  const HandChunk c = MakeChunk(1, 9000, 3);
  const std::uint32_t want = Crc32c(c.file.data(), c.file.size());
  const internal::ChunkChecksummer sums(c.mf);
  const StripeGeometry g = c.mf.geometry();
  std::uint32_t sum = sums.Start(1);
  for (std::uint64_t s = 0; s < g.stripes(); ++s)
    sum = sums.Add(sum, s, Crc32c(c.file.data() + g.record_offset(s), g.block_size(s)));
  EXPECT_EQ(sum, want);
  internal::ChunkStreamChecksum stream(c.mf, 1);
  stream.Update(reinterpret_cast<const std::uint8_t*>(c.file.data()), c.file.size());
  EXPECT_EQ(stream.value(), want);
}

TEST(ObjectName, RefusesWhatCannotBeANameAndNamesTheByte) {
  const std::vector<std::string> good = {"a",
                                         "photos/2024/x.jpg",
                                         "caf\xc3\xa9",
                                         "\xe2\x82\xac 100",
                                         "\xf0\x9f\x98\x80",
                                         std::string(kMaxObjectNameBytes, 'n')};
  for (const std::string& ok : good)
    EXPECT_TRUE(ValidateObjectName(ok).ok()) << ok << ": " << ValidateObjectName(ok).ToString();
  struct Bad {
    std::string name;
    const char* expect;
  } bad[] = {
      {"", "empty"},
      {std::string(kMaxObjectNameBytes + 1, 'n'), "more than 4096"},
      {"a\nb", "control character (0x0a at byte 1)"},
      {std::string("a\0b", 3), "control character (0x00 at byte 1)"},
      {"tab\t", "0x09 at byte 3"},
      {"del\x7f", "0x7f at byte 3"},
      {"\xff", "not valid UTF-8 (at byte 0)"},
      {"ok\xc3", "not valid UTF-8 (at byte 2)"},        // truncated sequence
      {"\xc0\xaf", "not valid UTF-8"},                  // overlong '/'
      {"\xe0\x80\xaf", "not valid UTF-8"},              // overlong
      {"\xed\xa0\x80", "not valid UTF-8"},              // a surrogate
      {"\xf4\x90\x80\x80", "not valid UTF-8"},          // above U+10FFFF
      {"x\xe2\x82", "not valid UTF-8 (at byte 1)"},     // cut short
      {"\xe2\x28\xa1", "not valid UTF-8 (at byte 0)"},  // bad continuation
  };
  for (const Bad& b : bad) {
    const Status s = ValidateObjectName(b.name);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << b.expect;
    EXPECT_NE(s.message().find(b.expect), std::string::npos) << s.message();
    // The message itself is printable ASCII: safe on a terminal and in JSON.
    for (char ch : s.message())
      EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << b.expect << ": " << s.message();
  }
}

}  // namespace
}  // namespace fls
