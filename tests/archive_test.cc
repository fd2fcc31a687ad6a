// Archive -> damage -> restore / verify / repair on real files in temporary
// directories, through the library.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <ostream>
#include <set>

#include "archive_test_util.h"
#include "fls/archive.h"
#include "fls/backend_registry.h"
#include "fls/chunk_format.h"
#include "fls/crc32c.h"
#include "fls/geometry.h"
#include "fls/manifest.h"
#include "host/archive/object_io.h"

namespace fls {
namespace {

using testing::FlipByte;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

constexpr std::uint64_t kW = 10000;  // stripe width in most tests: blocks of 1000 B

struct Fixture {
  TempDir dir;
  std::unique_ptr<Store> store;
  std::string data;
  Manifest mf;

  explicit Fixture(std::size_t size, std::uint64_t stripe = kW, int targets = 14) {
    store = testing::MakeStore(dir / "store", targets);
    data = testing::RandomBytes(size, size + 7);
    WriteFile(dir / "in.bin", data);
    mf = Archive("obj", stripe);
  }
  Manifest Archive(const std::string& name, std::uint64_t stripe, const std::string& file = "") {
    ArchiveOptions o;
    o.stripe_width = stripe;
    o.name = name;
    o.backend = "isal";
    o.threads = 1;
    ArchiveResult r;
    Status s = ArchiveFile(*store, file.empty() ? dir / "in.bin" : file, o, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r.manifest;
  }
  Status Restore(const std::string& out, RestoreResult* r = nullptr, bool range = false,
                 std::uint64_t off = 0, std::uint64_t len = 0) {
    RestoreOptions o;
    o.output = out;
    o.backend = "isal";
    o.threads = 1;
    o.has_range = range;
    o.offset = off;
    o.length = len;
    RestoreResult local;
    return RestoreObject(*store, mf.name, o, r ? r : &local);
  }
  CatalogEntry Entry() {
    CatalogEntry e;
    EXPECT_TRUE(store->FindObject(mf.name, &e).ok());
    return e;
  }
  ObjectReport Verify(bool deep = false) {
    VerifyOptions o;
    o.deep = deep;
    o.backend = "isal";
    ObjectReport r;
    EXPECT_TRUE(VerifyObject(*store, Entry(), o, &r).ok());
    return r;
  }
  Status Repair(RepairResult* r) {
    RepairOptions o;
    o.backend = "isal";
    return RepairObject(*store, Entry(), o, r);
  }
  std::string ChunkPath(int i) const { return mf.chunks[i].path(); }
  StripeGeometry Geometry() const { return mf.geometry(); }
  // Offset in a chunk file of byte `at` (taken modulo the block size) of
  // stripe `stripe`'s block.
  std::uint64_t BlockOffset(std::uint64_t stripe, std::uint64_t at = 0) const {
    const StripeGeometry g = Geometry();
    return g.record_offset(stripe) + at % g.block_size(stripe);
  }
  // Offset of stripe `stripe`'s block CRC.
  std::uint64_t CrcOffset(std::uint64_t stripe) const {
    const StripeGeometry g = Geometry();
    return g.record_offset(stripe) + g.block_size(stripe);
  }
};

// Damage done to one chunk file, and the stripes it makes bad.
struct Damage {
  enum Kind { kFlip, kFlipCrc, kTruncate } kind;
  int chunk;
  std::uint64_t stripe;
};

// Applies `damage` and returns, per chunk, the stripes a verify must find bad.
std::map<int, std::vector<std::uint64_t>> Apply(const Fixture& f,
                                                const std::vector<Damage>& damage) {
  std::map<int, std::set<std::uint64_t>> bad;
  const StripeGeometry g = f.Geometry();
  for (const Damage& d : damage) {
    switch (d.kind) {
      case Damage::kFlip:
        FlipByte(f.ChunkPath(d.chunk), f.BlockOffset(d.stripe, 999 + d.chunk));
        bad[d.chunk].insert(d.stripe);
        break;
      case Damage::kFlipCrc:
        FlipByte(f.ChunkPath(d.chunk), f.CrcOffset(d.stripe) + 1);
        bad[d.chunk].insert(d.stripe);
        break;
      case Damage::kTruncate:
        testing::fs::resize_file(f.ChunkPath(d.chunk),
                                 g.record_offset(d.stripe) + g.record_bytes(d.stripe) / 2);
        for (std::uint64_t s = d.stripe; s < g.stripes(); ++s) bad[d.chunk].insert(s);
        break;
    }
  }
  std::map<int, std::vector<std::uint64_t>> out;
  for (const auto& [chunk, stripes] : bad) out[chunk].assign(stripes.begin(), stripes.end());
  return out;
}

// The shapes every damage test runs on: whole stripes only, a short last
// stripe (its blocks sized to its bytes) and a file smaller than one stripe.
// `target` is the stripe the damage goes to.
struct Shape {
  const char* name;
  std::uint64_t size;
  std::uint64_t stripe;
  std::uint64_t target;
};
std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.name; }
std::string ShapeName(const ::testing::TestParamInfo<Shape>& i) { return i.param.name; }

const Shape kShapes[] = {
    {"WholeStripes", 5 * kW, kW, 2},
    {"ShortLastStripe", 5 * kW + 123, kW, 5},  // last block 64 bytes
    {"SmallerThanAStripe", 4321, kW, 0},       // one stripe, blocks of 448 bytes
};

class SizeTest : public ::testing::TestWithParam<std::size_t> {};

TEST_P(SizeTest, AnyFourChunksLostThenRestoreBitExactAndRepairByteIdentical) {
  Fixture f(GetParam());
  ASSERT_EQ(f.mf.chunks.size(), 14u);
  std::set<std::string> targets;
  for (const auto& c : f.mf.chunks) targets.insert(c.target);
  EXPECT_EQ(targets.size(), 14u) << "chunks of one object go to distinct targets";
  std::vector<std::string> originals;
  for (int i = 0; i < 14; ++i) originals.push_back(ReadFile(f.ChunkPath(i)));
  // Healthy restore first.
  ASSERT_TRUE(f.Restore(f.dir / "out0").ok());
  EXPECT_EQ(ReadFile(f.dir / "out0"), f.data);
  EXPECT_EQ(f.Verify(true).health, Health::kHealthy);
  const std::vector<std::vector<int>> patterns = {{0, 1, 2, 3}, {10, 11, 12, 13}, {0, 5, 11, 13}};
  for (const auto& lost : patterns) {
    for (int i : lost) ASSERT_TRUE(testing::fs::remove(f.ChunkPath(i)));
    RestoreResult rr;
    Status s = f.Restore(f.dir / "out", &rr);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(ReadFile(f.dir / "out"), f.data);
    EXPECT_EQ(rr.problems.size(), 4u);
    const ObjectReport before = f.Verify();
    EXPECT_EQ(before.health, Health::kDegraded);
    for (int i : lost) EXPECT_EQ(before.chunks[i].state, "missing");
    RepairResult rep;
    ASSERT_TRUE(f.Repair(&rep).ok());
    EXPECT_EQ(rep.rebuilt.size(), 4u);
    EXPECT_EQ(f.Verify(true).health, Health::kHealthy);
    for (int i = 0; i < 14; ++i)
      EXPECT_EQ(ReadFile(f.ChunkPath(i)), originals[i]) << "chunk " << i << " not byte-identical";
  }
  // Repair is idempotent: nothing to do the second time.
  RepairResult again;
  ASSERT_TRUE(f.Repair(&again).ok());
  EXPECT_FALSE(again.manifest_rewritten);
  EXPECT_TRUE(again.rebuilt.empty());
}

INSTANTIATE_TEST_SUITE_P(Sizes, SizeTest,
                         ::testing::Values(0, 1, 4321, kW - 1, kW, kW + 1, 37 * kW + 5));

// Every pattern of up to m lost blocks in a short last stripe (blocks of 128
// bytes after full stripes of 1,000) comes back bit-exact; m + 1 do not.
TEST(Archive, EveryErasurePatternOfAShortLastStripe) {
  Fixture f(2 * kW + 777);
  const StripeGeometry g = f.Geometry();
  ASSERT_EQ(g.stripes(), 3u);
  ASSERT_EQ(g.last_block(), 128u);
  const std::uint64_t from = g.stripe_offset(2) - 3, len = 780;  // crosses into the last stripe
  const std::string want = f.data.substr(from, len);
  std::unique_ptr<Backend> backend;
  ASSERT_TRUE(MakeBackend("isal", 1, 10, 4, MatrixKind::kCauchy, &backend).ok());
  int patterns = 0;
  for (unsigned mask = 1; mask < (1u << 14); ++mask) {
    const int lost = __builtin_popcount(mask);
    if (lost > 4 && lost != 5) continue;
    if (lost == 5 && mask % 7 != 0) continue;  // a sample of the unrecoverable ones
    std::vector<int> chunks;
    for (int c = 0; c < 14; ++c)
      if (mask & (1u << c)) chunks.push_back(c);
    for (int c : chunks) FlipByte(f.ChunkPath(c), f.BlockOffset(2, 11 * c));
    // Restore's reading and rebuilding, without its fsynced output file.
    internal::ObjectReader reader(*f.store, f.mf);
    reader.Open();
    std::string got;
    const Status s = internal::StreamObject(
        reader, *backend, from, from + len, nullptr,
        [&](const std::uint8_t* p, std::size_t n) {
          got.append(reinterpret_cast<const char*>(p), n);
          return Status::Ok();
        },
        nullptr, nullptr);
    if (lost <= 4) {
      ASSERT_TRUE(s.ok()) << "mask " << mask << ": " << s.ToString();
      ASSERT_EQ(got, want) << "mask " << mask;
      ++patterns;
    } else {
      ASSERT_EQ(s.code(), Status::Code::kUnrecoverable) << "mask " << mask;
    }
    for (int c : chunks) FlipByte(f.ChunkPath(c), f.BlockOffset(2, 11 * c));
  }
  EXPECT_EQ(patterns, 14 + 91 + 364 + 1001);
  EXPECT_EQ(f.Verify(true).health, Health::kHealthy);
  // And through the real restore, for one pattern.
  for (int c : {2, 6, 10, 13}) FlipByte(f.ChunkPath(c), f.BlockOffset(2, 3));
  ASSERT_TRUE(f.Restore(f.dir / "out").ok());
  EXPECT_EQ(ReadFile(f.dir / "out"), f.data);
}

// What a file costs on the targets: each chunk file is the header, full
// records for the full stripes and a record of the last block sized to the
// last stripe's bytes (ceil(rest / 10) rounded up to 64), never a whole
// stripe of padding. Figures from docs/FORMAT.md's formula, worked by hand.
TEST(Archive, ChunkFilesAreSizedToTheFileNotToAStripe) {
  TempDir dir;
  auto store = testing::MakeStore(dir / "s", 14);
  constexpr std::uint64_t kMiB = 1 << 20;
  struct Case {
    std::uint64_t size, chunk_bytes;
  } cases[] = {
      {kMiB, 128 + 104896 + 4},      // was 128 + 1,048,580 in version 1
      {kMiB + 1, 128 + 104896 + 4},  // ceil(1,048,577 / 10) = 104,858 -> 104,896
      {3 * kMiB, 128 + 314624 + 4},  // 314,573 -> 314,624
      {10 * kMiB + 1, 128 + (kMiB + 4) + 64 + 4},
  };
  for (const Case& c : cases) {
    const std::string name = "f" + std::to_string(c.size);
    WriteFile(dir / name, testing::RandomBytes(c.size, c.size));
    ArchiveOptions o;
    o.backend = "isal";
    ArchiveResult r;
    ASSERT_TRUE(ArchiveFile(*store, dir / name, o, &r).ok());
    std::uint64_t total = 0;
    for (const ManifestChunk& ch : r.manifest.chunks) {
      EXPECT_EQ(testing::fs::file_size(ch.path()), c.chunk_bytes) << name << " chunk " << ch.index;
      EXPECT_EQ(ch.bytes, c.chunk_bytes);
      total += testing::fs::file_size(ch.path());
    }
    // 14 chunks of a 10 + 4 code: 1.4x the file plus headers and CRCs.
    EXPECT_LT(static_cast<double>(total) / c.size, 1.41) << name;
    RestoreOptions ro;
    ro.output = dir / "back";
    ro.backend = "isal";
    RestoreResult rr;
    ASSERT_TRUE(RestoreObject(*store, name, ro, &rr).ok());
    EXPECT_EQ(testing::fs::file_size(dir / "back"), c.size);
  }
}

// The manifest's per-chunk checksum covers the chunk's block data: it differs
// between chunks, and a block rewritten together with its CRC (which every
// block check passes) is caught by verify, refused by restore (the SHA-256),
// and healed by repair.
TEST(Archive, ChunkChecksumCatchesABlockRewrittenWithItsCrc) {
  Fixture f(5 * kW + 123);
  std::set<std::uint32_t> sums;
  for (const ManifestChunk& c : f.mf.chunks) sums.insert(c.crc32c);
  EXPECT_EQ(sums.size(), 14u) << "per-chunk checksums must differ between chunks";
  const std::string original = ReadFile(f.ChunkPath(3));
  {
    const StripeGeometry g = f.Geometry();
    std::string bytes = original;
    bytes[g.record_offset(1) + 10] ^= 0x20;
    PutLe32(reinterpret_cast<std::uint8_t*>(bytes.data()) + f.CrcOffset(1),
            Crc32c(bytes.data() + g.record_offset(1), g.block_size(1)));
    WriteFile(f.ChunkPath(3), bytes);
  }
  for (bool deep : {false, true}) {
    const ObjectReport r = f.Verify(deep);
    EXPECT_EQ(r.health, Health::kDegraded) << "deep " << deep;
    EXPECT_EQ(r.chunks[3].state, kBadChecksum) << "deep " << deep;
    for (int i = 0; i < 14; ++i)
      if (i != 3) EXPECT_EQ(r.chunks[i].state, "ok") << i << " deep " << deep;
  }
  const Status s = f.Restore(f.dir / "out");
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_FALSE(testing::fs::exists(f.dir / "out"));
  RepairResult rep;
  ASSERT_TRUE(f.Repair(&rep).ok());
  EXPECT_EQ(rep.rebuilt, std::vector<int>{3});
  EXPECT_EQ(ReadFile(f.ChunkPath(3)), original);
  EXPECT_EQ(f.Verify(true).health, Health::kHealthy);
  ASSERT_TRUE(f.Restore(f.dir / "out").ok());
  EXPECT_EQ(ReadFile(f.dir / "out"), f.data);
}

class DamageTest : public ::testing::TestWithParam<Shape> {};

TEST_P(DamageTest, BadBlocksInEightChunksAtMostFourPerStripeRestoreBitExact) {
  const Shape& shape = GetParam();
  Fixture f(shape.size, shape.stripe);
  const std::uint64_t t = shape.target;
  std::vector<std::string> originals;
  for (int i = 0; i < 14; ++i) originals.push_back(ReadFile(f.ChunkPath(i)));
  // The target stripe: chunks 4, 5, 12, 13; another stripe (when there is
  // one): chunks 0..3 -> 8 different chunks, never more than 4 per stripe.
  std::vector<Damage> damage;
  for (int c : {4, 5, 12, 13}) damage.push_back({Damage::kFlip, c, t});
  const std::uint64_t other = t == 0 ? 1 : 0;
  if (other < f.Geometry().stripes())
    for (int c : {0, 1, 2, 3}) damage.push_back({Damage::kFlip, c, other});
  const auto bad = Apply(f, damage);
  ASSERT_TRUE(f.Restore(f.dir / "out").ok());
  EXPECT_EQ(ReadFile(f.dir / "out"), f.data);
  const ObjectReport r = f.Verify();
  EXPECT_EQ(r.health, Health::kDegraded);
  for (int i = 0; i < 14; ++i) {
    const auto it = bad.find(i);
    EXPECT_EQ(r.chunks[i].bad_stripes, it == bad.end() ? std::vector<std::uint64_t>{} : it->second)
        << "chunk " << i;
    EXPECT_EQ(r.chunks[i].state, it == bad.end() ? "ok" : "damaged") << "chunk " << i;
  }
  RepairResult rep;
  ASSERT_TRUE(f.Repair(&rep).ok());
  EXPECT_EQ(rep.rebuilt.size(), bad.size());
  EXPECT_EQ(f.Verify(true).health, Health::kHealthy);
  for (int i = 0; i < 14; ++i) EXPECT_EQ(ReadFile(f.ChunkPath(i)), originals[i]) << i;
}

TEST_P(DamageTest, FiveBadBlocksInOneStripeIsUnrecoverableAndLeavesNoOutput) {
  const Shape& shape = GetParam();
  Fixture f(shape.size, shape.stripe);
  const std::uint64_t t = shape.target;
  for (int c : {0, 3, 7, 10, 12}) FlipByte(f.ChunkPath(c), f.BlockOffset(t, 5));
  Status s = f.Restore(f.dir / "out");
  ASSERT_EQ(s.code(), Status::Code::kUnrecoverable) << s.ToString();
  EXPECT_NE(s.message().find("stripe " + std::to_string(t)), std::string::npos) << s.message();
  for (int c : {0, 3, 7, 10, 12})
    EXPECT_NE(s.message().find("chunk " + std::to_string(c) + " "), std::string::npos)
        << s.message();
  EXPECT_FALSE(testing::fs::exists(f.dir / "out"));
  for (const auto& name : testing::FilesIn(f.dir.path()))
    EXPECT_FALSE(IsTempName(name)) << "temporary left behind: " << name;
  // An existing output file is left as it was.
  WriteFile(f.dir / "out", "previous");
  EXPECT_FALSE(f.Restore(f.dir / "out").ok());
  EXPECT_EQ(ReadFile(f.dir / "out"), "previous");
  const ObjectReport r = f.Verify();
  EXPECT_EQ(r.health, Health::kUnrecoverable);
  EXPECT_EQ(r.unrecoverable_stripes, std::vector<std::uint64_t>{t});
  RepairResult rep;
  EXPECT_EQ(f.Repair(&rep).code(), Status::Code::kUnrecoverable);
  // Ranges that avoid stripe t still come back; ranges into it do not.
  const StripeGeometry g = f.Geometry();
  if (t > 0) {
    const std::uint64_t end = g.stripe_offset(t);
    ASSERT_TRUE(f.Restore(f.dir / "range", nullptr, true, 100, end - 100).ok());
    EXPECT_EQ(ReadFile(f.dir / "range"), f.data.substr(100, end - 100));
  }
  const std::uint64_t into = g.stripe_offset(t) + g.stripe_bytes(t) / 2;
  EXPECT_EQ(f.Restore(f.dir / "range", nullptr, true, into, 1).code(),
            Status::Code::kUnrecoverable);
}

TEST_P(DamageTest, EachKindOfChunkDamageIsDiagnosed) {
  const Shape& shape = GetParam();
  Fixture f(shape.size, shape.stripe);
  const std::uint64_t t = shape.target;
  const std::uint64_t stripes = f.Geometry().stripes();
  // Another object with the same parameters, to take a chunk from.
  testing::WriteFile(f.dir / "other.bin", testing::RandomBytes(shape.size, 99));
  const Manifest other = f.Archive("other", shape.stripe, f.dir / "other.bin");
  // Chunk 1 truncated in the middle of stripe t's record.
  const auto bad = Apply(f, {{Damage::kTruncate, 1, t}});
  // Chunk of another object in place of chunk 4.
  testing::fs::copy_file(other.chunks[4].path(), f.ChunkPath(4),
                         testing::fs::copy_options::overwrite_existing);
  // Chunks 6 and 7 swapped.
  const std::string tmp = f.ChunkPath(6) + ".x";
  testing::fs::rename(f.ChunkPath(6), tmp);
  testing::fs::rename(f.ChunkPath(7), f.ChunkPath(6));
  testing::fs::rename(tmp, f.ChunkPath(7));
  const ObjectReport r = f.Verify();
  EXPECT_EQ(r.health, Health::kDegraded);
  EXPECT_EQ(r.chunks[1].state, "truncated");
  EXPECT_EQ(r.chunks[1].bad_stripes, bad.at(1));
  EXPECT_EQ(r.chunks[4].state, "wrong-object");
  EXPECT_NE(r.chunks[4].detail.find(ObjectIdToHex(other.id)), std::string::npos);
  EXPECT_EQ(r.chunks[6].state, "wrong-index");
  EXPECT_NE(r.chunks[6].detail.find("holds chunk index 7"), std::string::npos);
  EXPECT_EQ(r.chunks[7].state, "wrong-index");
  ASSERT_TRUE(f.Restore(f.dir / "out").ok());
  EXPECT_EQ(ReadFile(f.dir / "out"), f.data);
  // Garbage header on chunk 9: five bad chunks, but the stripes before t
  // still have only 4 bad blocks each (chunk 1 is only bad from stripe t on).
  {
    std::fstream g(f.ChunkPath(9), std::ios::binary | std::ios::in | std::ios::out);
    const std::string junk = testing::RandomBytes(kChunkHeaderBytes, 5);
    g.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const ObjectReport r2 = f.Verify();
  EXPECT_EQ(r2.chunks[9].state, "bad-header");
  EXPECT_EQ(r2.health, Health::kUnrecoverable);
  std::vector<std::uint64_t> lost;
  for (std::uint64_t s = t; s < stripes; ++s) lost.push_back(s);
  EXPECT_EQ(r2.unrecoverable_stripes, lost);
  RepairResult rep;
  EXPECT_EQ(f.Repair(&rep).code(), Status::Code::kUnrecoverable);
  if (t > 0) {
    const std::uint64_t end = f.Geometry().stripe_offset(t);
    ASSERT_TRUE(f.Restore(f.dir / "range", nullptr, true, 0, end).ok());
    EXPECT_EQ(ReadFile(f.dir / "range"), f.data.substr(0, end));
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, DamageTest, ::testing::ValuesIn(kShapes), ShapeName);

TEST(Archive, LostManifestCopiesAreDiagnosedAndRepaired) {
  Fixture f(2 * kW);
  CatalogEntry e = f.Entry();
  ASSERT_EQ(e.copies.size(), 5u);  // m + 1
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(testing::fs::remove(e.copies[i]));
  ObjectReport r = f.Verify();
  EXPECT_EQ(r.health, Health::kDegraded);
  EXPECT_EQ(r.manifest_copies, 2);
  EXPECT_EQ(r.manifest_copies_expected, 5);
  bool noted = false;
  for (const auto& n : r.notes)
    noted = noted || n.find("manifest copies: 2 of 5") != std::string::npos;
  EXPECT_TRUE(noted);
  RepairResult rep;
  ASSERT_TRUE(f.Repair(&rep).ok());
  EXPECT_TRUE(rep.manifest_rewritten);
  EXPECT_EQ(rep.new_generation, 2u);
  e = f.Entry();
  EXPECT_EQ(e.copies.size(), 5u);
  EXPECT_TRUE(e.stale_copies.empty());
  EXPECT_EQ(e.manifest.generation, 2u);
  EXPECT_EQ(f.Verify().health, Health::kHealthy);
  // A damaged manifest copy is skipped in favour of a good one, and reported.
  FlipByte(e.copies[0], 40);
  CatalogEntry e2 = f.Entry();
  EXPECT_EQ(e2.copies.size(), 4u);
  EXPECT_EQ(e2.problems.size(), 1u);
  // Every copy gone: the object is gone.
  for (const auto& p : e.copies) testing::fs::remove(p);
  CatalogEntry none;
  Status s = f.store->FindObject("obj", &none);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("obj"), std::string::npos);
}

TEST(Archive, RepairMovesChunksOffALostTargetToAnUnusedOne) {
  Fixture f(3 * kW, kW, 16);  // 16 targets: 2 spare
  std::vector<std::string> originals;
  for (int i = 0; i < 14; ++i) originals.push_back(ReadFile(f.ChunkPath(i)));
  const std::string lost_target = f.mf.chunks[3].target;
  testing::fs::remove_all(lost_target);
  RepairResult rep;
  ASSERT_TRUE(f.Repair(&rep).ok());
  ASSERT_EQ(rep.rebuilt, std::vector<int>{3});
  const CatalogEntry e = f.Entry();
  EXPECT_NE(e.manifest.chunks[3].target, lost_target);
  std::set<std::string> targets;
  for (const auto& c : e.manifest.chunks) targets.insert(c.target);
  EXPECT_EQ(targets.size(), 14u);
  EXPECT_EQ(ReadFile(e.manifest.chunks[3].path()), originals[3]);
  f.mf = e.manifest;
  EXPECT_EQ(f.Verify(true).health, Health::kHealthy);
  ASSERT_TRUE(f.Restore(f.dir / "out").ok());
  EXPECT_EQ(ReadFile(f.dir / "out"), f.data);
}

TEST(Archive, RangeRestoreReadsOnlyWhatItNeedsAndChecksBlocks) {
  Fixture f(20 * kW + 333);
  struct R {
    std::uint64_t off, len;
  } ranges[] = {{0, 0},
                {0, 1},
                {kW - 1, 2},
                {5 * kW + 17, 3 * kW},
                {20 * kW, 333},
                {0, 20 * kW + 333},
                // Into, across and within the short last stripe (333 bytes:
                // blocks of 64, the last data blocks partly or wholly padding).
                {19 * kW + 500, kW - 400},
                {20 * kW - 1, 2},
                {20 * kW + 63, 2},
                {20 * kW + 320, 13},
                {20 * kW + 332, 1}};
  ASSERT_EQ(f.Geometry().last_block(), 64u);
  for (const R& r : ranges) {
    ASSERT_TRUE(f.Restore(f.dir / "range", nullptr, true, r.off, r.len).ok());
    EXPECT_EQ(ReadFile(f.dir / "range"), f.data.substr(r.off, r.len)) << r.off << ":" << r.len;
  }
  // Damage outside the range does not matter; inside it is repaired on the fly.
  for (int c : {0, 1, 2, 3, 4}) FlipByte(f.ChunkPath(c), f.BlockOffset(15));
  FlipByte(f.ChunkPath(2), f.BlockOffset(6));
  for (int c : {0, 1, 5, 13}) FlipByte(f.ChunkPath(c), f.BlockOffset(20, 7));
  ASSERT_TRUE(f.Restore(f.dir / "range", nullptr, true, 5 * kW, 3 * kW).ok());
  EXPECT_EQ(ReadFile(f.dir / "range"), f.data.substr(5 * kW, 3 * kW));
  ASSERT_TRUE(f.Restore(f.dir / "range", nullptr, true, 19 * kW + 7, kW + 300).ok());
  EXPECT_EQ(ReadFile(f.dir / "range"), f.data.substr(19 * kW + 7, kW + 300));
  EXPECT_EQ(f.Restore(f.dir / "range", nullptr, true, 14 * kW, 2 * kW).code(),
            Status::Code::kUnrecoverable);
  EXPECT_EQ(f.Restore(f.dir / "range", nullptr, true, 20 * kW, 334).code(),
            Status::Code::kInvalidArgument);
}

TEST(Archive, KeepsModeAndMtimeAndReArchivesOnlyWhatChanged) {
  TempDir dir;
  auto store = testing::MakeStore(dir / "s", 14);
  WriteFile(dir / "f", "some bytes");
  testing::fs::permissions(dir / "f", testing::fs::perms(0600));
  FileInfo before;
  ASSERT_TRUE(Env::Default()->GetFileInfo(dir / "f", &before).ok());
  ArchiveOptions o;
  ArchiveResult r;
  ASSERT_TRUE(ArchiveFile(*store, dir / "f", o, &r).ok());
  EXPECT_EQ(r.manifest.name, "f");
  EXPECT_EQ(r.manifest.stripe_width, kDefaultStripeWidth);
  EXPECT_EQ(r.manifest.matrix, MatrixKind::kCauchy);
  const Manifest first = r.manifest;
  // The same file again: unchanged, nothing written.
  const auto files = testing::AllFiles(dir / "s");
  ASSERT_TRUE(ArchiveFile(*store, dir / "f", o, &r).ok());
  EXPECT_TRUE(r.unchanged);
  EXPECT_EQ(r.manifest.id, first.id);
  EXPECT_EQ(testing::AllFiles(dir / "s").size(), files.size());
  // Another mode: another file as far as the quick check goes.
  testing::fs::permissions(dir / "f", testing::fs::perms(0640));
  Status dup = ArchiveFile(*store, dir / "f", o, &r);
  EXPECT_EQ(dup.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(dup.message().find("already archived with other content"), std::string::npos)
      << dup.message();
  // ... but the same bytes for the checksum.
  o.compare_checksum = true;
  ASSERT_TRUE(ArchiveFile(*store, dir / "f", o, &r).ok());
  EXPECT_TRUE(r.unchanged);
  testing::fs::permissions(dir / "f", testing::fs::perms(0600));
  o.compare_checksum = false;
  RestoreOptions ro;
  ro.output = dir / "back";
  RestoreResult rr;
  ASSERT_TRUE(RestoreObject(*store, "f", ro, &rr).ok());
  FileInfo after;
  ASSERT_TRUE(Env::Default()->GetFileInfo(dir / "back", &after).ok());
  EXPECT_EQ(after.mode, 0600u);
  EXPECT_EQ(after.mtime_ns, before.mtime_ns);
}

TEST(Archive, VandermondeAndOtherShapes) {
  TempDir dir;
  auto store = testing::MakeStore(dir / "s", 9);
  const std::string data = testing::RandomBytes(50000, 3);
  WriteFile(dir / "f", data);
  ArchiveOptions o;
  o.k = 6;
  o.m = 3;
  o.matrix = MatrixKind::kVandermonde;
  o.stripe_width = 7000;  // not a multiple of k: rounded up to 7002
  ArchiveResult r;
  ASSERT_TRUE(ArchiveFile(*store, dir / "f", o, &r).ok());
  EXPECT_EQ(r.manifest.stripe_width, 7002u);
  for (int i : {0, 4, 8}) testing::fs::remove(r.manifest.chunks[i].path());
  RestoreOptions ro;
  ro.output = dir / "back";
  RestoreResult rr;
  ASSERT_TRUE(RestoreObject(*store, "f", ro, &rr).ok());
  EXPECT_EQ(ReadFile(dir / "back"), data);
}

TEST(Archive, SharedTargetsOnlyWhenAllowed) {
  TempDir dir;
  auto store = testing::MakeStore(dir / "s", 5);
  WriteFile(dir / "f", testing::RandomBytes(30000, 4));
  ArchiveOptions o;
  o.stripe_width = kW;
  ArchiveResult r;
  Status s = ArchiveFile(*store, dir / "f", o, &r);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(testing::AllFiles(dir / "s").empty());
  o.allow_shared_targets = true;
  ASSERT_TRUE(ArchiveFile(*store, dir / "f", o, &r).ok());
  EXPECT_EQ(r.target_failures_tolerated, 1);  // 3 chunks per target at most, m = 4
}

}  // namespace
}  // namespace fls

namespace fls {
namespace {

// Blocks of 64 KiB and more are read record by record into aligned slots,
// smaller ones in one read: the same damage handling must hold for both, and
// for an object whose short last stripe has small blocks after large ones.
class LargeBlockTest : public ::testing::TestWithParam<Shape> {};

TEST_P(LargeBlockTest, DamageVerifyRepair) {
  const Shape& shape = GetParam();
  Fixture f(shape.size, shape.stripe);
  const StripeGeometry g = f.Geometry();
  const std::uint64_t t = shape.target, last = g.stripes() - 1;
  std::vector<std::string> originals;
  for (int i = 0; i < 14; ++i) originals.push_back(ReadFile(f.ChunkPath(i)));
  // Stripe t: three flipped blocks and a truncation (chunk 7 cut in t's
  // record: bad from t on); another stripe: a block CRC flipped.
  std::vector<Damage> damage = {{Damage::kFlip, 0, t},
                                {Damage::kFlip, 4, t},
                                {Damage::kFlip, 11, t},
                                {Damage::kTruncate, 7, t}};
  if (last > 0) damage.push_back({Damage::kFlipCrc, 2, t == 0 ? 1 : t - 1});
  const auto bad = Apply(f, damage);
  ASSERT_TRUE(f.Restore(f.dir / "out").ok());
  EXPECT_EQ(ReadFile(f.dir / "out"), f.data);
  const std::uint64_t from = g.stripe_offset(t) - std::min<std::uint64_t>(5, g.stripe_offset(t));
  const std::uint64_t len = std::min<std::uint64_t>(shape.stripe + 10, f.data.size() - from);
  ASSERT_TRUE(f.Restore(f.dir / "range", nullptr, true, from, len).ok());
  EXPECT_EQ(ReadFile(f.dir / "range"), f.data.substr(from, len));
  const ObjectReport r = f.Verify(true);
  EXPECT_EQ(r.health, Health::kDegraded);
  for (const auto& [chunk, stripes] : bad) EXPECT_EQ(r.chunks[chunk].bad_stripes, stripes) << chunk;
  EXPECT_EQ(r.chunks[7].state, "truncated");
  RepairResult rep;
  ASSERT_TRUE(f.Repair(&rep).ok());
  EXPECT_EQ(f.Verify(true).health, Health::kHealthy);
  for (int i = 0; i < 14; ++i) EXPECT_EQ(ReadFile(f.ChunkPath(i)), originals[i]) << i;
  // Five bad blocks in stripe t: unrecoverable, named, no output.
  for (int c : {0, 1, 4, 9, 11}) FlipByte(f.ChunkPath(c), f.BlockOffset(t));
  Status s = f.Restore(f.dir / "out2");
  EXPECT_EQ(s.code(), Status::Code::kUnrecoverable);
  EXPECT_NE(s.message().find("stripe " + std::to_string(t)), std::string::npos) << s.message();
  EXPECT_FALSE(testing::fs::exists(f.dir / "out2"));
}

constexpr std::uint64_t kLargeStripe = 10 * 70000;
const Shape kLargeShapes[] = {
    {"MiddleStripe", 5 * kLargeStripe + 4321, kLargeStripe, 3},
    {"ShortLastStripe", 5 * kLargeStripe + 4321, kLargeStripe, 5},  // last block 448
    // Last blocks of 67,008 and 69,056 bytes: read record by record too.
    {"LargeLastStripe", 3 * kLargeStripe + 670000, kLargeStripe, 3},
    {"SmallerThanAStripe", 690001, kLargeStripe, 0},
};
INSTANTIATE_TEST_SUITE_P(Shapes, LargeBlockTest, ::testing::ValuesIn(kLargeShapes), ShapeName);

}  // namespace
}  // namespace fls
