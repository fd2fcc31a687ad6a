// ObjectStream (fls/object_stream.h): random reads of an object and of a
// packed file through the decoded-stripe cache, healthy, with 4 chunks lost,
// with blocks corrupted in 4 chunks, and Unrecoverable (never wrong bytes)
// with 5 bad blocks in one stripe; StripeCache's bound.
#include <random>

#include "archive_test_util.h"
#include "fls/chunk_format.h"
#include "fls/geometry.h"
#include "fls/object_stream.h"
#include "fls/pack.h"

namespace fls {
namespace {

using testing::RandomBytes;
using testing::TempDir;
using testing::WriteFile;

constexpr std::uint64_t kStripe = 40000;  // 4000-byte blocks: many stripes, quickly

struct Fixture {
  TempDir t;
  std::unique_ptr<Store> store;
  std::string data;
  Manifest mf;
  Fixture(std::size_t size) {
    store = testing::MakeStore(t.path(), 14);
    data = RandomBytes(size, 7);
    WriteFile(t / "src", data);
    ArchiveOptions o;
    o.stripe_width = kStripe;
    o.name = "dir/big";
    ArchiveResult r;
    EXPECT_TRUE(ArchiveFile(*store, t / "src", o, &r).ok());
    CatalogEntry e;
    EXPECT_TRUE(store->FindObject("dir/big", &e).ok());
    mf = e.manifest;
  }
  std::unique_ptr<ObjectStream> Open(StripeCache* cache, std::vector<std::string>* damage) {
    Located found;
    EXPECT_TRUE(LocateName(*store, "dir/big", &found).ok());
    ObjectStreamOptions opt;
    opt.cache = cache;
    opt.on_damage = [damage](const std::string& line) { damage->push_back(line); };
    std::unique_ptr<ObjectStream> s;
    EXPECT_TRUE(ObjectStream::Open(*store, found, opt, &s).ok());
    return s;
  }
  // Flips a byte of stripe `s`'s block in chunk `i`.
  void CorruptBlock(int i, std::uint64_t s) {
    StripeGeometry g =
        StripeGeometry::ForChunkFormat(mf.chunk_format_version, mf.k, mf.block_size, mf.size);
    testing::FlipByte(mf.chunks[i].path(), g.record_offset(s) + 17);
  }
};

// Reads `n` random ranges and compares them with the original.
void RandomReads(ObjectStream& s, const std::string& data, int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int r = 0; r < n; ++r) {
    const std::uint64_t off = rng() % (data.size() + 10);
    const std::size_t len = 1 + rng() % 100000;
    std::string buf(len, '\0');
    std::size_t got = 0;
    ASSERT_TRUE(s.Read(off, len, reinterpret_cast<std::uint8_t*>(buf.data()), &got).ok());
    const std::size_t want = off >= data.size() ? 0 : std::min<std::size_t>(len, data.size() - off);
    ASSERT_EQ(got, want) << "offset " << off << " length " << len;
    if (want) ASSERT_EQ(buf.substr(0, got), data.substr(off, want)) << "offset " << off;
  }
}

std::string ReadAll(ObjectStream& s, std::size_t piece) {
  std::string out, buf(piece, '\0');
  for (int guard = 0; guard < 1000000; ++guard) {
    std::size_t got = 0;
    EXPECT_TRUE(s.Read(out.size(), piece, reinterpret_cast<std::uint8_t*>(buf.data()), &got).ok());
    if (got == 0) break;
    out.append(buf.data(), got);
  }
  return out;
}

TEST(ObjectStream, SequentialAndRandomReadsHealthy) {
  Fixture f(1000003);
  StripeCache cache(1 << 20);
  std::vector<std::string> damage;
  auto s = f.Open(&cache, &damage);
  ASSERT_EQ(s->size(), f.data.size());
  EXPECT_EQ(ReadAll(*s, 4096), f.data);
  RandomReads(*s, f.data, 200, 1);
  EXPECT_TRUE(damage.empty());
  EXPECT_GT(cache.hits(), 0u);
}

TEST(ObjectStream, FourChunksLostOrCorrupted) {
  Fixture f(777777);
  for (int i : {0, 3, 9, 12}) std::filesystem::remove(f.mf.chunks[i].path());
  std::vector<std::string> damage;
  auto s = f.Open(nullptr, &damage);  // no shared cache: only the stream's own stripes
  EXPECT_EQ(ReadAll(*s, 65536), f.data);
  RandomReads(*s, f.data, 100, 2);
  EXPECT_EQ(damage.size(), 4u);

  Fixture g(777777);
  // Parity chunk 10 is read (three data blocks are bad), fails, and 13 is read.
  for (int i : {1, 2, 5, 10})
    for (std::uint64_t st = 0; st < g.mf.stripes; st += 3) g.CorruptBlock(i, st);
  damage.clear();
  auto s2 = g.Open(nullptr, &damage);
  RandomReads(*s2, g.data, 100, 3);
  EXPECT_EQ(ReadAll(*s2, 100000), g.data);
  EXPECT_EQ(damage.size(), 4u);
  for (const auto& line : damage) EXPECT_NE(line.find("CRC mismatch"), std::string::npos) << line;
}

TEST(ObjectStream, FiveBadBlocksInOneStripeFailOnlyThatStripe) {
  Fixture f(500000);
  const std::uint64_t bad = 5;
  for (int i : {0, 1, 2, 10, 11}) f.CorruptBlock(i, bad);
  std::vector<std::string> damage;
  StripeCache cache(1 << 20);
  auto s = f.Open(&cache, &damage);
  std::string buf(1000, '\0');
  std::size_t got = 0;
  auto* p = reinterpret_cast<std::uint8_t*>(buf.data());
  // A read inside the stripe, and one that only ends in it.
  Status st = s->Read(bad * kStripe + 10, 100, p, &got);
  EXPECT_EQ(st.code(), Status::Code::kUnrecoverable) << st.ToString();
  EXPECT_NE(st.ToString().find("stripe 5"), std::string::npos) << st.ToString();
  EXPECT_EQ(s->Read(bad * kStripe - 10, 100, p, &got).code(), Status::Code::kUnrecoverable);
  // The stripes around it still read right.
  ASSERT_TRUE(s->Read(bad * kStripe - 1000, 1000, p, &got).ok());
  EXPECT_EQ(buf, f.data.substr(bad * kStripe - 1000, 1000));
  ASSERT_TRUE(s->Read((bad + 1) * kStripe, 1000, p, &got).ok());
  EXPECT_EQ(buf, f.data.substr((bad + 1) * kStripe, 1000));
}

TEST(ObjectStream, PackedFileIsItsRangeOfThePack) {
  TempDir t;
  auto store = testing::MakeStore(t.path(), 14);
  std::vector<PackInput> inputs;
  std::vector<std::string> bodies;
  for (int i = 0; i < 20; ++i) {
    bodies.push_back(RandomBytes(1000 + i * 3001, 100 + i));
    WriteFile(t / ("f" + std::to_string(i)), bodies.back());
    inputs.push_back(
        {"d/f" + std::to_string(i), t / ("f" + std::to_string(i)), bodies.back().size()});
  }
  ArchiveOptions o;
  o.stripe_width = kStripe;
  auto open = [](const std::string& path, std::unique_ptr<RandomAccessFile>* f, FileInfo* info) {
    FLS_RETURN_IF_ERROR(Env::Default()->GetFileInfo(path, info));
    return Env::Default()->NewRandomAccessFile(path, f);
  };
  ASSERT_TRUE(ArchiveSmallFiles(*store, open, inputs, o, PackOptions(),
                                [](std::size_t, const PackedItem& it) {
                                  EXPECT_TRUE(it.status.ok()) << it.status.ToString();
                                })
                  .ok());
  StripeCache cache(1 << 20);
  for (int i = 0; i < 20; ++i) {
    Located found;
    ASSERT_TRUE(LocateName(*store, inputs[i].name, &found).ok());
    ASSERT_TRUE(found.member);
    ObjectStreamOptions opt;
    opt.cache = &cache;
    std::unique_ptr<ObjectStream> s;
    ASSERT_TRUE(ObjectStream::Open(*store, found, opt, &s).ok());
    EXPECT_EQ(ReadAll(*s, 777), bodies[i]) << inputs[i].name;
  }
}

TEST(StripeCache, StaysWithinItsBytes) {
  StripeCache c(1000);
  for (int i = 0; i < 10; ++i) c.Put(std::to_string(i), std::make_shared<std::string>(300, 'x'));
  int kept = 0;
  for (int i = 0; i < 10; ++i) kept += c.Get(std::to_string(i)) != nullptr;
  EXPECT_EQ(kept, 3);
  EXPECT_NE(c.Get("9"), nullptr);
  c.Put("big", std::make_shared<std::string>(1001, 'y'));
  EXPECT_EQ(c.Get("big"), nullptr);
}

}  // namespace
}  // namespace fls
