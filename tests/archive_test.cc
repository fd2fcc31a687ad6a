// Archive -> damage -> restore / verify / repair on real files in temporary
// directories, through the library.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "archive_test_util.h"
#include "fls/archive.h"
#include "fls/chunk_format.h"
#include "fls/manifest.h"

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
  std::uint64_t BlockOffset(int chunk, std::uint64_t stripe) const {
    return mf.HeaderFor(chunk).BlockOffset(stripe);
  }
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

INSTANTIATE_TEST_SUITE_P(Sizes, SizeTest, ::testing::Values(0, 1, kW - 1, kW, kW + 1, 37 * kW + 5));

TEST(Archive, BadBlocksInSixChunksAtMostFourPerStripeRestoreBitExact) {
  Fixture f(5 * kW + 123);
  std::vector<std::string> originals;
  for (int i = 0; i < 14; ++i) originals.push_back(ReadFile(f.ChunkPath(i)));
  // Stripe 0: chunks 0..3; stripe 2: chunks 4, 5, 12, 13 -> 8 different chunks,
  // 6 of them data, never more than 4 per stripe.
  for (int c : {0, 1, 2, 3}) FlipByte(f.ChunkPath(c), f.BlockOffset(c, 0) + 17);
  for (int c : {4, 5, 12, 13}) FlipByte(f.ChunkPath(c), f.BlockOffset(c, 2) + 999);
  ASSERT_TRUE(f.Restore(f.dir / "out").ok());
  EXPECT_EQ(ReadFile(f.dir / "out"), f.data);
  const ObjectReport r = f.Verify();
  EXPECT_EQ(r.health, Health::kDegraded);
  EXPECT_EQ(r.chunks[0].bad_stripes, std::vector<std::uint64_t>{0});
  EXPECT_EQ(r.chunks[12].bad_stripes, std::vector<std::uint64_t>{2});
  EXPECT_EQ(r.chunks[7].state, "ok");
  RepairResult rep;
  ASSERT_TRUE(f.Repair(&rep).ok());
  EXPECT_EQ(rep.rebuilt.size(), 8u);
  EXPECT_EQ(f.Verify(true).health, Health::kHealthy);
  for (int i = 0; i < 14; ++i) EXPECT_EQ(ReadFile(f.ChunkPath(i)), originals[i]) << i;
}

TEST(Archive, FiveBadBlocksInOneStripeIsUnrecoverableAndLeavesNoOutput) {
  Fixture f(4 * kW);
  for (int c : {0, 3, 7, 10, 12}) FlipByte(f.ChunkPath(c), f.BlockOffset(c, 2) + 5);
  Status s = f.Restore(f.dir / "out");
  ASSERT_EQ(s.code(), Status::Code::kUnrecoverable) << s.ToString();
  EXPECT_NE(s.message().find("stripe 2"), std::string::npos) << s.message();
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
  EXPECT_EQ(r.unrecoverable_stripes, std::vector<std::uint64_t>{2});
  RepairResult rep;
  EXPECT_EQ(f.Repair(&rep).code(), Status::Code::kUnrecoverable);
  // Ranges that avoid stripe 2 still come back.
  ASSERT_TRUE(f.Restore(f.dir / "range", nullptr, true, 100, 2 * kW - 100).ok());
  EXPECT_EQ(ReadFile(f.dir / "range"), f.data.substr(100, 2 * kW - 100));
}

TEST(Archive, EachKindOfChunkDamageIsDiagnosed) {
  Fixture f(3 * kW + 10);
  // Another object with the same parameters, to take a chunk from.
  testing::WriteFile(f.dir / "other.bin", testing::RandomBytes(3 * kW + 10, 99));
  const Manifest other = f.Archive("other", kW, f.dir / "other.bin");
  // Truncated chunk 1.
  testing::fs::resize_file(f.ChunkPath(1), testing::fs::file_size(f.ChunkPath(1)) - 500);
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
  EXPECT_EQ(r.chunks[1].bad_stripes, std::vector<std::uint64_t>{3});
  EXPECT_EQ(r.chunks[4].state, "wrong-object");
  EXPECT_NE(r.chunks[4].detail.find(ObjectIdToHex(other.id)), std::string::npos);
  EXPECT_EQ(r.chunks[6].state, "wrong-index");
  EXPECT_NE(r.chunks[6].detail.find("holds chunk index 7"), std::string::npos);
  EXPECT_EQ(r.chunks[7].state, "wrong-index");
  ASSERT_TRUE(f.Restore(f.dir / "out").ok());
  EXPECT_EQ(ReadFile(f.dir / "out"), f.data);
  // Garbage header on chunk 9: five bad chunks, but stripes 0-2 still have
  // only 4 bad blocks each (chunk 1 is only bad in stripe 3).
  {
    std::fstream g(f.ChunkPath(9), std::ios::binary | std::ios::in | std::ios::out);
    const std::string junk = testing::RandomBytes(kChunkHeaderBytes, 5);
    g.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const ObjectReport r2 = f.Verify();
  EXPECT_EQ(r2.chunks[9].state, "bad-header");
  EXPECT_EQ(r2.health, Health::kUnrecoverable);  // stripe 3 has 5 bad blocks
  EXPECT_EQ(r2.unrecoverable_stripes, std::vector<std::uint64_t>{3});
  RepairResult rep;
  EXPECT_EQ(f.Repair(&rep).code(), Status::Code::kUnrecoverable);
}

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
  } ranges[] = {
      {0, 0}, {0, 1}, {kW - 1, 2}, {5 * kW + 17, 3 * kW}, {20 * kW, 333}, {0, 20 * kW + 333}};
  for (const R& r : ranges) {
    ASSERT_TRUE(f.Restore(f.dir / "range", nullptr, true, r.off, r.len).ok());
    EXPECT_EQ(ReadFile(f.dir / "range"), f.data.substr(r.off, r.len)) << r.off << ":" << r.len;
  }
  // Damage outside the range does not matter; inside it is repaired on the fly.
  for (int c : {0, 1, 2, 3, 4}) FlipByte(f.ChunkPath(c), f.BlockOffset(c, 15));
  FlipByte(f.ChunkPath(2), f.BlockOffset(2, 6));
  ASSERT_TRUE(f.Restore(f.dir / "range", nullptr, true, 5 * kW, 3 * kW).ok());
  EXPECT_EQ(ReadFile(f.dir / "range"), f.data.substr(5 * kW, 3 * kW));
  EXPECT_EQ(f.Restore(f.dir / "range", nullptr, true, 14 * kW, 2 * kW).code(),
            Status::Code::kUnrecoverable);
  EXPECT_EQ(f.Restore(f.dir / "range", nullptr, true, 20 * kW, 334).code(),
            Status::Code::kInvalidArgument);
}

TEST(Archive, KeepsModeAndMtimeAndRefusesDuplicateNames) {
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
  Status dup = ArchiveFile(*store, dir / "f", o, &r);
  EXPECT_EQ(dup.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(dup.message().find("already exists"), std::string::npos);
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

// Blocks of 64 KiB and more are read record by record into aligned slots:
// the same damage handling must hold there.
TEST(Archive, LargeBlocksDamageVerifyRepair) {
  const std::uint64_t stripe = 10 * 70000;
  Fixture f(5 * stripe + 4321, stripe);
  std::vector<std::string> originals;
  for (int i = 0; i < 14; ++i) originals.push_back(ReadFile(f.ChunkPath(i)));
  for (int c : {0, 4, 9, 11}) FlipByte(f.ChunkPath(c), f.BlockOffset(c, 3) + 69999);
  FlipByte(f.ChunkPath(2), f.BlockOffset(2, 1) + 70000);  // the CRC itself
  testing::fs::resize_file(f.ChunkPath(7), f.BlockOffset(7, 4) + 100);
  ASSERT_TRUE(f.Restore(f.dir / "out").ok());
  EXPECT_EQ(ReadFile(f.dir / "out"), f.data);
  ASSERT_TRUE(f.Restore(f.dir / "range", nullptr, true, 3 * stripe - 5, stripe + 10).ok());
  EXPECT_EQ(ReadFile(f.dir / "range"), f.data.substr(3 * stripe - 5, stripe + 10));
  const ObjectReport r = f.Verify(true);
  EXPECT_EQ(r.health, Health::kDegraded);
  EXPECT_EQ(r.chunks[2].bad_stripes, std::vector<std::uint64_t>{1});
  EXPECT_EQ(r.chunks[7].bad_stripes, (std::vector<std::uint64_t>{4, 5}));
  EXPECT_EQ(r.chunks[7].state, "truncated");
  EXPECT_EQ(r.chunks[11].bad_stripes, std::vector<std::uint64_t>{3});
  RepairResult rep;
  ASSERT_TRUE(f.Repair(&rep).ok());
  EXPECT_EQ(f.Verify(true).health, Health::kHealthy);
  for (int i = 0; i < 14; ++i) EXPECT_EQ(ReadFile(f.ChunkPath(i)), originals[i]) << i;
  // One more bad block in stripe 3 makes it five: unrecoverable, named.
  for (int c : {0, 1, 4, 9, 11}) FlipByte(f.ChunkPath(c), f.BlockOffset(c, 3));
  Status s = f.Restore(f.dir / "out2");
  EXPECT_EQ(s.code(), Status::Code::kUnrecoverable);
  EXPECT_NE(s.message().find("stripe 3"), std::string::npos) << s.message();
  EXPECT_FALSE(testing::fs::exists(f.dir / "out2"));
}

}  // namespace
}  // namespace fls
