// Chunk header and manifest encoding, store config parsing and placement.
#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <set>

#include <nlohmann/json.hpp>
#include "archive_test_util.h"
#include "fls/chunk_format.h"
#include "fls/crc32c.h"
#include "fls/manifest.h"
#include "fls/store.h"

namespace fls {
namespace {

using testing::TempDir;

ChunkHeader SampleHeader() {
  ChunkHeader h;
  ObjectIdFromHex("00112233445566778899aabbccddeeff", &h.object_id);
  h.chunk_index = 3;
  h.k = 10;
  h.m = 4;
  h.matrix = MatrixKind::kCauchy;
  h.block_size = 1000;
  h.stripe_width = 10000;
  h.file_size = 25001;
  h.stripe_count = 3;
  h.last_block_size = 512;
  return h;
}

TEST(ChunkHeader, RoundTripsAndHasDocumentedLayout) {
  std::uint8_t buf[kChunkHeaderBytes];
  EncodeChunkHeader(SampleHeader(), buf);
  EXPECT_EQ(0, std::memcmp(buf, "FLSCHUNK", 8));
  EXPECT_EQ(buf[8], 2);     // format version, little-endian
  EXPECT_EQ(buf[10], 128);  // header size
  EXPECT_EQ(buf[16], 0x00);
  EXPECT_EQ(buf[31], 0xff);  // object id bytes in order
  EXPECT_EQ(buf[32], 3);     // chunk index
  EXPECT_EQ(buf[34], 10);    // k
  EXPECT_EQ(buf[36], 4);     // m
  EXPECT_EQ(buf[38], 1);     // cauchy
  // last_block_size: 5001 bytes in the last stripe, ceil(5001 / 10) = 501,
  // rounded up to 512.
  EXPECT_EQ(buf[72], 0x00);
  EXPECT_EQ(buf[73], 0x02);
  for (int i = 74; i < 124; ++i) EXPECT_EQ(buf[i], 0) << i;
  EXPECT_EQ(GetLe32(buf + 124), Crc32c(buf, 124));
  ChunkHeader h;
  ASSERT_TRUE(DecodeChunkHeader(buf, sizeof buf, &h).ok());
  EXPECT_EQ(h.object_id, SampleHeader().object_id);
  EXPECT_EQ(h.chunk_index, 3);
  EXPECT_EQ(h.file_size, 25001u);
  EXPECT_EQ(h.format_version, 2);
  EXPECT_EQ(h.last_block_size, 512u);
  EXPECT_EQ(h.geometry().chunk_file_bytes(), 128u + 2 * 1004 + 516);
  EXPECT_EQ(h.geometry().record_offset(2), 128u + 2 * 1004);
}

// Version-1 headers (last block = block size, bytes 72..123 reserved) are
// still read, and keep their layout when written again.
TEST(ChunkHeader, ReadsVersionOne) {
  ChunkHeader v1 = SampleHeader();
  v1.format_version = 1;
  v1.last_block_size = 0;
  std::uint8_t buf[kChunkHeaderBytes];
  EncodeChunkHeader(v1, buf);
  EXPECT_EQ(buf[8], 1);
  for (int i = 72; i < 124; ++i) EXPECT_EQ(buf[i], 0) << i;
  ChunkHeader h;
  ASSERT_TRUE(DecodeChunkHeader(buf, sizeof buf, &h).ok());
  EXPECT_EQ(h.format_version, 1);
  EXPECT_EQ(h.geometry().last_block(), 1000u);
  EXPECT_TRUE(h.geometry().uniform_last_block());
  EXPECT_EQ(h.geometry().chunk_file_bytes(), 128u + 3 * 1004);
  // A version-1 header with something in the bytes version 2 uses is not
  // trusted (it was never written so).
  buf[72] = 1;
  PutLe32(buf + 124, Crc32c(buf, 124));
  EXPECT_NE(DecodeChunkHeader(buf, sizeof buf, &h).message().find("reserved"), std::string::npos);
}

TEST(ChunkHeader, RejectsGarbageWithClearErrors) {
  std::uint8_t good[kChunkHeaderBytes];
  EncodeChunkHeader(SampleHeader(), good);
  ChunkHeader h;
  EXPECT_NE(DecodeChunkHeader(good, 100, &h).message().find("truncated"), std::string::npos);
  std::uint8_t b[kChunkHeaderBytes];
  std::memcpy(b, good, sizeof b);
  b[0] = 'X';
  EXPECT_NE(DecodeChunkHeader(b, sizeof b, &h).message().find("magic"), std::string::npos);
  std::memcpy(b, good, sizeof b);
  b[8] = 3;
  EXPECT_NE(DecodeChunkHeader(b, sizeof b, &h).message().find("version 3"), std::string::npos);
  for (std::size_t i = 12; i < 124; ++i) {  // any flipped byte after the version fails the CRC
    std::memcpy(b, good, sizeof b);
    b[i] ^= 1;
    Status s = DecodeChunkHeader(b, sizeof b, &h);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << i;
  }
  // Valid CRC but inconsistent fields: the field is named.
  ChunkHeader bad = SampleHeader();
  bad.stripe_count = 4;
  EncodeChunkHeader(bad, b);
  EXPECT_NE(DecodeChunkHeader(b, sizeof b, &h).message().find("stripe count"), std::string::npos);
  bad = SampleHeader();
  bad.chunk_index = 14;
  EncodeChunkHeader(bad, b);
  EXPECT_NE(DecodeChunkHeader(b, sizeof b, &h).message().find("chunk index"), std::string::npos);
  bad = SampleHeader();
  bad.last_block_size = 1000;  // a v1 last block in a v2 header
  EncodeChunkHeader(bad, b);
  EXPECT_NE(DecodeChunkHeader(b, sizeof b, &h).message().find("last block size"),
            std::string::npos);
  bad = SampleHeader();
  bad.stripe_width = 9999;
  EncodeChunkHeader(bad, b);
  EXPECT_NE(DecodeChunkHeader(b, sizeof b, &h).message().find("stripe width"), std::string::npos);
  // Random garbage never decodes.
  for (int seed = 0; seed < 200; ++seed) {
    const std::string g = testing::RandomBytes(kChunkHeaderBytes, seed);
    EXPECT_FALSE(
        DecodeChunkHeader(reinterpret_cast<const std::uint8_t*>(g.data()), g.size(), &h).ok());
  }
}

Manifest SampleManifest() {
  Manifest m;
  m.name = "photos/2024.tar";
  ObjectIdFromHex("00112233445566778899aabbccddeeff", &m.id);
  m.generation = 2;
  m.k = 2;
  m.m = 1;
  m.block_size = 1000;
  m.stripe_width = 2000;
  m.size = 4500;
  m.stripes = 3;
  m.last_block_size = 256;  // 500 bytes left: ceil(500 / 2) = 250, rounded up to 64
  m.mode = 0640;
  m.mtime_ns = 1700000000123456789;
  m.sha256 = std::string(64, 'a');
  for (int i = 0; i < 3; ++i)
    m.chunks.push_back({i, "/t" + std::to_string(i), "rack" + std::to_string(i),
                        ChunkFileName(m.id, i), 0x1234u + i, 128 + 2 * 1004 + 260,
                        "000000000000000" + std::to_string(i)});
  m.manifest_targets = {"/t0", "/t1"};
  m.manifest_target_ids = {"0000000000000000", "0000000000000001"};
  return m;
}

TEST(Manifest, RoundTrips) {
  const Manifest m = SampleManifest();
  const std::string text = EncodeManifest(m);
  Manifest back;
  ASSERT_TRUE(DecodeManifest(text, &back).ok()) << DecodeManifest(text, &back).ToString();
  EXPECT_EQ(back.format_version, kManifestFormatVersion);
  EXPECT_EQ(back.name, m.name);
  EXPECT_EQ(back.id, m.id);
  EXPECT_EQ(back.mtime_ns, m.mtime_ns);
  EXPECT_EQ(back.mode, 0640u);
  EXPECT_EQ(back.chunks[2].crc32c, 0x1236u);
  EXPECT_EQ(back.chunks[1].target_id, "0000000000000001");
  // Version 3 names targets by identity only: paths and domains come from
  // the store that reads it.
  EXPECT_EQ(back.chunks[1].target, "");
  EXPECT_EQ(back.chunks[1].domain, "");
  EXPECT_EQ(text.find("/t1"), std::string::npos) << text;
  EXPECT_EQ(text.find("rack"), std::string::npos) << text;
  EXPECT_EQ(back.manifest_target_ids, m.manifest_target_ids);
  EXPECT_EQ(back.chunk_format_version, 2);
  EXPECT_EQ(back.last_block_size, 256u);
  EXPECT_NE(text.find("\"last_block_size\":256"), std::string::npos) << text;
  EXPECT_EQ(EncodeManifest(back), text);
}

// Version 2 (path-addressed, chunk format 2: what fls wrote before the
// name-addressed catalogue) is read and written back in version 2.
TEST(Manifest, Version2RoundTripsWithPathsAndDomains) {
  Manifest m = SampleManifest();
  m.format_version = kManifestFormatVersion2;
  for (ManifestChunk& c : m.chunks) c.target_id.clear();
  m.manifest_target_ids.clear();
  const std::string text = EncodeManifest(m);
  EXPECT_NE(text.find("\n  "), std::string::npos) << "version 2 is written indented";
  Manifest back;
  ASSERT_TRUE(DecodeManifest(text, &back).ok()) << DecodeManifest(text, &back).ToString();
  EXPECT_EQ(back.format_version, kManifestFormatVersion2);
  EXPECT_EQ(back.chunks[1].domain, "rack1");
  EXPECT_EQ(back.chunks[1].target, "/t1");
  EXPECT_EQ(back.manifest_targets, m.manifest_targets);
  EXPECT_EQ(back.format_version, 2);
  EXPECT_EQ(back.last_block_size, 256u);
  EXPECT_NE(text.find("\"last_block_size\""), std::string::npos);
}

// A version-1 manifest (no last_block_size; chunks of format 1) is read and
// written back in version 1.
TEST(Manifest, ReadsVersionOne) {
  Manifest m = SampleManifest();
  m.format_version = 1;
  m.chunk_format_version = 1;
  m.last_block_size = 0;
  for (auto& c : m.chunks) c.bytes = 128 + 3 * 1004;
  const std::string text = EncodeManifest(m);
  EXPECT_EQ(text.find("last_block_size"), std::string::npos);
  Manifest back;
  Status s = DecodeManifest(text, &back);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(back.format_version, 1);
  EXPECT_EQ(back.chunk_format_version, 1);
  EXPECT_EQ(back.geometry().last_block(), 1000u);
  EXPECT_EQ(back.HeaderFor(0).format_version, 1);
  EXPECT_EQ(EncodeManifest(back), text);
}

TEST(Manifest, RejectsDamageAndNamesTheField) {
  const std::string text = EncodeManifest(SampleManifest());
  Manifest m;
  EXPECT_NE(DecodeManifest("{not json", &m).message().find("not valid JSON"), std::string::npos);
  EXPECT_NE(DecodeManifest("[1,2]", &m).message().find("not a JSON object"), std::string::npos);
  std::string altered = text;
  altered.replace(altered.find("photos"), 6, "photoz");
  EXPECT_NE(DecodeManifest(altered, &m).message().find("checksum mismatch"), std::string::npos);
  // A field removed (checksum recomputed so that the field check is reached).
  {
    std::string no_size = text;
    const auto pos = no_size.find("\"size\"");
    ASSERT_NE(pos, std::string::npos);
    no_size.replace(pos, 6, "\"sizX\"");
    Status s = DecodeManifest(no_size, &m);
    EXPECT_EQ(s.code(), Status::Code::kCorruption);
  }
  for (int seed = 0; seed < 100; ++seed) {
    std::string g = text;
    std::mt19937 rng(seed);
    const std::size_t pos = rng() % g.size();
    const char c = static_cast<char>(rng());
    if (std::isspace(static_cast<unsigned char>(g[pos])) &&
        std::isspace(static_cast<unsigned char>(c)))
      continue;  // whitespace for whitespace: still the same JSON
    g[pos] = c;
    Manifest out;
    Status s = DecodeManifest(g, &out);
    if (g != text) EXPECT_FALSE(s.ok()) << seed;
  }
}

// Well-formed JSON with a valid checksum but a bad field: the field is named.
TEST(Manifest, BadFieldsBehindAValidChecksumAreNamed) {
  auto reseal = [](nlohmann::json j) {
    j.erase("checksum");
    const std::string body = j.dump();
    char crc[9];
    std::snprintf(crc, sizeof crc, "%08x", Crc32c(body.data(), body.size()));
    j["checksum"] = crc;
    return j.dump();
  };
  const nlohmann::json good = nlohmann::json::parse(EncodeManifest(SampleManifest()));
  Manifest m;
  ASSERT_TRUE(DecodeManifest(reseal(good), &m).ok());
  struct Case {
    const char* what;
    std::function<void(nlohmann::json&)> edit;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"k as string", [](nlohmann::json& j) { j["k"] = "2"; }, "'k'"},
      {"k huge", [](nlohmann::json& j) { j["k"] = 4294967298ull; }, "'k' is out of range"},
      {"size negative", [](nlohmann::json& j) { j["size"] = -1; }, "'size'"},
      {"no sha256", [](nlohmann::json& j) { j.erase("sha256"); }, "missing field 'sha256'"},
      {"short sha256", [](nlohmann::json& j) { j["sha256"] = "abc"; }, "sha256"},
      {"bad matrix", [](nlohmann::json& j) { j["matrix"] = "rs"; }, "'matrix'"},
      {"chunks object", [](nlohmann::json& j) { j["chunks"] = nlohmann::json::object(); },
       "'chunks'"},
      {"chunk index", [](nlohmann::json& j) { j["chunks"][1]["index"] = 2; }, "chunks[1]"},
      {"chunk file with /", [](nlohmann::json& j) { j["chunks"][0]["file"] = "../x"; },
       "contains '/'"},
      {"chunk crc", [](nlohmann::json& j) { j["chunks"][2]["crc32c"] = "xyz"; },
       "chunks[2].crc32c"},
      {"chunk bytes", [](nlohmann::json& j) { j["chunks"][2]["bytes"] = 5; }, "chunks[2].bytes"},
      {"stripes", [](nlohmann::json& j) { j["stripes"] = 7; }, "stripe count"},
      {"too few chunks", [](nlohmann::json& j) { j["chunks"].erase(2); }, "2 chunks listed"},
      {"version", [](nlohmann::json& j) { j["format_version"] = 9; }, "format_version 9"},
      {"no last block", [](nlohmann::json& j) { j.erase("last_block_size"); },
       "missing field 'last_block_size'"},
      {"last block", [](nlohmann::json& j) { j["last_block_size"] = 1000; }, "last block size"},
      {"chunk version", [](nlohmann::json& j) { j["chunk_format_version"] = 1; },
       "chunk_format_version 1"},
  };
  for (const Case& c : cases) {
    nlohmann::json j = good;
    c.edit(j);
    Status s = DecodeManifest(reseal(j), &m);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << c.what;
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << c.what << ": " << s.message();
  }
}

TEST(Manifest, FileNames) {
  ObjectId id;
  ObjectIdFromHex("00112233445566778899aabbccddeeff", &id);
  EXPECT_EQ(ChunkFileName(id, 13), "fls-00112233445566778899aabbccddeeff.c13.chunk");
  const std::string n = ManifestFileName(id, 7);
  EXPECT_EQ(n, "fls-00112233445566778899aabbccddeeff.g7.manifest");
  ObjectId back;
  std::uint64_t g = 0;
  EXPECT_TRUE(ParseManifestFileName(n, &back, &g));
  EXPECT_EQ(back, id);
  EXPECT_EQ(g, 7u);
  EXPECT_FALSE(ParseManifestFileName("fls-0011.g1.manifest", &back, &g));
  EXPECT_FALSE(
      ParseManifestFileName(".fls-00112233445566778899aabbccddeeff.g7.manifest.tmp-1", &back, &g));
  int index = -1;
  EXPECT_TRUE(ParseChunkFileName(ChunkFileName(id, 13), &back, &index));
  EXPECT_EQ(back, id);
  EXPECT_EQ(index, 13);
  EXPECT_TRUE(ParseChunkFileName(ChunkFileName(id, 255), &back, &index));
  EXPECT_EQ(index, 255);
  EXPECT_FALSE(
      ParseChunkFileName("fls-00112233445566778899aabbccddeeff.c013.chunk", &back, &index));
  EXPECT_FALSE(
      ParseChunkFileName("fls-00112233445566778899aabbccddeeff.c256.chunk", &back, &index));
  EXPECT_FALSE(ParseChunkFileName("fls-00112233445566778899aabbccddeeff.c.chunk", &back, &index));
  EXPECT_FALSE(ParseChunkFileName(n, &back, &index));
  EXPECT_FALSE(
      ParseChunkFileName(".fls-00112233445566778899aabbccddeeff.c1.chunk.tmp-1", &back, &index));
}

TEST(StoreConfig, ParsesYamlAndResolvesRelativePaths) {
  TempDir dir;
  testing::WriteFile(dir / "store.yaml",
                     "targets:\n  - path: a\n    domain: rack1\n  - path: /abs/b\n");
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::FromYamlFile(Env::Default(), dir / "store.yaml", &store).ok());
  ASSERT_EQ(store->targets().size(), 2u);
  EXPECT_EQ(store->targets()[0].path, dir / "a");
  EXPECT_EQ(store->targets()[0].domain, "rack1");
  EXPECT_EQ(store->targets()[1].path, "/abs/b");
  EXPECT_EQ(store->targets()[1].domain, "/abs/b");
}

TEST(StoreConfig, BadConfigNamesKeyAndLine) {
  TempDir dir;
  auto error = [&](const std::string& yaml) {
    testing::WriteFile(dir / "s.yaml", yaml);
    std::unique_ptr<Store> store;
    return Store::FromYamlFile(Env::Default(), dir / "s.yaml", &store).message();
  };
  std::string e = error("targets:\n  - path: a\n  - pth: b\n");
  EXPECT_NE(e.find("unknown key 'pth'"), std::string::npos) << e;
  EXPECT_NE(e.find("s.yaml:3"), std::string::npos) << e;
  e = error("tragets:\n  - path: a\n");
  EXPECT_NE(e.find("targets"), std::string::npos) << e;
  e = error("targets: [\n");
  EXPECT_NE(e.find("s.yaml:"), std::string::npos) << e;
  e = error("targets:\n  - path: a\n  - path: a\n");
  EXPECT_NE(e.find("listed twice"), std::string::npos) << e;
  e = error("targets:\n  - path: a\n    domain: [x]\n");
  EXPECT_NE(e.find("domain"), std::string::npos) << e;
  std::unique_ptr<Store> store;
  EXPECT_EQ(Store::FromTargetSpecs(Env::Default(), {"/x="}, &store).code(),
            Status::Code::kInvalidArgument);
}

TEST(Placement, DistinctTargetsRoundRobinOverDomains) {
  std::vector<Target> targets;
  for (int i = 0; i < 15; ++i)
    targets.push_back({"/t" + std::to_string(i), "d" + std::to_string(i / 5)});
  std::vector<std::uint64_t> free(15, 1ull << 40);
  std::vector<int> p;
  ASSERT_TRUE(PlaceOnTargets(targets, free, 14, 1 << 20, false, &p).ok());
  std::set<int> distinct(p.begin(), p.end());
  EXPECT_EQ(distinct.size(), 14u);
  std::map<std::string, int> per_domain;
  for (int t : p) ++per_domain[targets[t].domain];
  EXPECT_EQ(per_domain["d0"], 5);
  EXPECT_EQ(per_domain["d1"], 5);
  EXPECT_EQ(per_domain["d2"], 4);
  // Consecutive chunks alternate domains.
  EXPECT_NE(targets[p[0]].domain, targets[p[1]].domain);
  EXPECT_NE(targets[p[1]].domain, targets[p[2]].domain);
}

TEST(Placement, EqualFreeSpaceSpreadsObjectsOverEveryTarget) {
  // 16 targets on one filesystem (same free space), 4 domains, 10+4: with
  // the object id as the spread every target gets chunks, each object still
  // has 14 distinct targets and at most 4 chunks per domain.
  std::vector<Target> targets;
  for (int i = 0; i < 16; ++i)
    targets.push_back({"/t" + std::to_string(i), "d" + std::to_string(i % 4)});
  const std::vector<std::uint64_t> free(16, 1ull << 40);
  std::vector<int> uses(16, 0);
  std::mt19937_64 rng(3);
  for (int object = 0; object < 200; ++object) {
    std::vector<int> p;
    ASSERT_TRUE(PlaceOnTargets(targets, free, 14, 1 << 20, false, &p, rng()).ok());
    EXPECT_EQ(std::set<int>(p.begin(), p.end()).size(), 14u);
    std::map<std::string, int> per_domain;
    for (int t : p) ++per_domain[targets[t].domain];
    for (const auto& [domain, n] : per_domain) EXPECT_LE(n, 4) << domain;
    for (int t : p) ++uses[t];
  }
  // 200 * 14 chunks over 16 targets: 175 each if even; none left out.
  for (int t = 0; t < 16; ++t) {
    EXPECT_GT(uses[t], 125) << "target " << t;
    EXPECT_LT(uses[t], 200) << "target " << t;
  }
  // Without a spread the same 14 targets are chosen every time.
  std::vector<int> a, b;
  ASSERT_TRUE(PlaceOnTargets(targets, free, 14, 1 << 20, false, &a).ok());
  ASSERT_TRUE(PlaceOnTargets(targets, free, 14, 1 << 20, false, &b).ok());
  EXPECT_EQ(a, b);
}

TEST(Placement, PrefersFreeSpaceAndSkipsFullTargets) {
  std::vector<Target> targets;
  for (int i = 0; i < 5; ++i)
    targets.push_back({"/t" + std::to_string(i), "/t" + std::to_string(i)});
  std::vector<std::uint64_t> free = {1ull << 30, 10ull << 30, 5ull << 30, 100, 20ull << 30};
  std::vector<int> p;
  ASSERT_TRUE(PlaceOnTargets(targets, free, 3, 1 << 20, false, &p).ok());
  EXPECT_EQ(p, (std::vector<int>{4, 1, 2}));
  EXPECT_EQ(PlaceOnTargets(targets, free, 5, 1 << 20, false, &p).code(),
            Status::Code::kInvalidArgument);  // only 4 can hold a chunk
}

TEST(Placement, SharingNeedsTheFlagAndReportsTolerance) {
  std::vector<Target> targets;
  for (int i = 0; i < 7; ++i)
    targets.push_back({"/t" + std::to_string(i), "/t" + std::to_string(i)});
  std::vector<std::uint64_t> free(7, 1ull << 40);
  std::vector<int> p;
  Status s = PlaceOnTargets(targets, free, 14, 1 << 20, false, &p);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("--allow-shared-targets"), std::string::npos);
  ASSERT_TRUE(PlaceOnTargets(targets, free, 14, 1 << 20, true, &p).ok());
  std::vector<std::string> names, domains;
  for (int t : p) {
    names.push_back(targets[t].path);
    domains.push_back(targets[t].domain);
  }
  const FaultTolerance tol = ToleranceOf(names, domains, 4);
  EXPECT_EQ(tol.targets, 2);  // 2 chunks per target: 2 targets lost = 4 chunks
  std::vector<std::string> distinct;
  for (int i = 0; i < 14; ++i) distinct.push_back("/t" + std::to_string(i));
  EXPECT_EQ(ToleranceOf(distinct, distinct, 4).targets, 4);
}

}  // namespace
}  // namespace fls
