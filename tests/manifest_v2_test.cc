// Layout v2's manifest (format version 3: name-addressed, compact, chunk
// format 2) and target identities, byte by byte against
// docs/FORMAT.md: the canonical JSON the checksum covers, integers beyond
// 2^53, strictness (duplicate and unknown keys), the name hash and the
// rendezvous score as an independent implementation computes them.
#include <gtest/gtest.h>

#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "fls/crc32c.h"
#include "fls/manifest.h"
#include "host/archive/manifest_commit.h"
#include "host/archive/target_identity.h"

namespace fls {
namespace {

Manifest Sample() {
  Manifest m;
  m.name = "a\"b\\c\n\x01\x1f\x7f/é€";  // every kind of escaping, raw UTF-8
  ObjectIdFromHex("00112233445566778899aabbccddeeff", &m.id);
  m.generation = 9007199254740993ull;  // 2^53 + 1: not a double
  m.k = 2;
  m.m = 1;
  m.block_size = 1u << 30;
  m.stripe_width = 2ull << 30;
  m.size = (1ull << 60) - 3;
  m.stripes = ((1ull << 60) - 3 + (2ull << 30) - 1) / (2ull << 30);
  // The last stripe holds 2^31 - 3 bytes: ceil of half of that, rounded up
  // to 64, is the full block again.
  m.last_block_size = 1u << 30;
  m.mode = 0755;
  m.mtime_ns = std::numeric_limits<std::int64_t>::min() + 1;
  m.sha256 = std::string(64, 'f');
  const std::uint64_t bytes = 128 + m.stripes * (m.block_size + 4);
  for (int i = 0; i < 3; ++i)
    m.chunks.push_back({i, "", "", ChunkFileName(m.id, i), 0xdeadbeefu - i, bytes,
                        "abcdef012345678" + std::to_string(i)});
  m.manifest_target_ids = {"abcdef0123456782", "abcdef0123456780"};
  return m;
}

std::string Crc(const std::string& s) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", Crc32c(s.data(), s.size()));
  return buf;
}

TEST(ManifestV2, IsTheDocumentedCanonicalJson) {
  const Manifest m = Sample();
  const std::string text = EncodeManifest(m);
  // Written by hand from docs/FORMAT.md, section 3: keys in byte order, no
  // whitespace, the checksum over the same form without "checksum".
  const std::string chunk =
      "\"file\":\"fls-00112233445566778899aabbccddeeff.c%d.chunk\",\"index\":%d,"
      "\"target\":\"abcdef012345678%d\"}";
  std::string chunks;
  for (int i = 0; i < 3; ++i) {
    char crc[9], buf[256];
    std::snprintf(crc, sizeof crc, "%08x", 0xdeadbeefu - i);
    std::snprintf(buf, sizeof buf, chunk.c_str(), i, i, i);
    chunks += std::string(i ? "," : "") + "{\"bytes\":" + std::to_string(m.chunks[0].bytes) +
              ",\"crc32c\":\"" + crc + "\"," + buf;
  }
  const std::string body_head = "{\"block_size\":1073741824,";
  const std::string body_tail =
      "\"chunk_format_version\":2,\"chunks\":[" + chunks +
      "],\"format\":\"fls-manifest\",\"format_version\":3,\"generation\":9007199254740993,"
      "\"id\":\"00112233445566778899aabbccddeeff\",\"k\":2,\"kind\":\"object\","
      "\"last_block_size\":1073741824,\"m\":1,"
      "\"manifest_targets\":[\"abcdef0123456782\",\"abcdef0123456780\"],\"matrix\":\"cauchy\","
      "\"mode\":493,\"mtime_ns\":-9223372036854775807,"
      "\"name\":\"a\\\"b\\\\c\\n\\u0001\\u001f\x7f/é€\","
      "\"sha256\":\"" +
      std::string(64, 'f') +
      "\",\"size\":1152921504606846973,"
      "\"stripe_width\":2147483648,\"stripes\":536870912}";
  const std::string body = body_head + body_tail;
  const std::string expect = body_head + "\"checksum\":\"" + Crc(body) + "\"," + body_tail + "\n";
  EXPECT_EQ(text, expect);
  Manifest back;
  ASSERT_TRUE(DecodeManifest(text, &back).ok()) << DecodeManifest(text, &back).ToString();
  EXPECT_EQ(back.generation, 9007199254740993ull);
  EXPECT_EQ(back.size, (1ull << 60) - 3);
  EXPECT_EQ(back.mtime_ns, std::numeric_limits<std::int64_t>::min() + 1);
  EXPECT_EQ(back.name, m.name);
}

TEST(ManifestV2, RejectsDuplicateUnknownAndForeignFields) {
  const std::string text = EncodeManifest(Sample());
  Manifest m;
  auto reseal = [](nlohmann::json j) {
    j.erase("checksum");
    j["checksum"] = Crc(j.dump());
    return j.dump();
  };
  const nlohmann::json good = nlohmann::json::parse(text);
  ASSERT_TRUE(DecodeManifest(reseal(good), &m).ok());
  // A key twice: whichever the checksum covered, a reader cannot tell.
  std::string dup = text;
  dup.insert(1, "\"k\":3,");
  Status s = DecodeManifest(dup, &m);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("'k' appears twice"), std::string::npos) << s.message();
  nlohmann::json j = good;
  j["extra"] = 1;
  s = DecodeManifest(reseal(j), &m);
  EXPECT_NE(s.message().find("unknown field 'extra'"), std::string::npos) << s.message();
  j = good;
  j["chunks"][1]["domain"] = "rack1";
  s = DecodeManifest(reseal(j), &m);
  EXPECT_NE(s.message().find("unknown field 'chunks[1].domain'"), std::string::npos) << s.message();
  j = good;
  j["kind"] = "member";
  s = DecodeManifest(reseal(j), &m);
  EXPECT_NE(s.message().find("'kind'"), std::string::npos) << s.message();
  j = good;
  j["chunks"][0]["target"] = "/mnt/disk0";
  s = DecodeManifest(reseal(j), &m);
  EXPECT_NE(s.message().find("not a target id"), std::string::npos) << s.message();
  j = good;
  j["manifest_targets"] = {"abcdef0123456782", "abcdef0123456782"};
  s = DecodeManifest(reseal(j), &m);
  EXPECT_NE(s.message().find("twice"), std::string::npos) << s.message();
  j = good;
  j["size"] = 1.5e18;  // a double, even one that looks whole, is not an integer
  s = DecodeManifest(reseal(j), &m);
  EXPECT_NE(s.message().find("'size'"), std::string::npos) << s.message();
}

TEST(ManifestV2, NameHashAndRendezvousMatchAnIndependentComputation) {
  // Python: hashlib.sha256(b'photos/2024.tar').hexdigest()[:32]
  EXPECT_EQ(NameHash("photos/2024.tar"), "4e11c686e2c9c2da644fafce0a80afd9");
  EXPECT_EQ(NameManifestFileName("photos/2024.tar"),
            "fls-n4e11c686e2c9c2da644fafce0a80afd9.manifest");
  std::string h;
  EXPECT_TRUE(ParseNameManifestFileName("fls-n4e11c686e2c9c2da644fafce0a80afd9.manifest", &h));
  EXPECT_EQ(h, "4e11c686e2c9c2da644fafce0a80afd9");
  EXPECT_FALSE(ParseNameManifestFileName("fls-n4E11c686e2c9c2da644fafce0a80afd9.manifest", &h));
  EXPECT_FALSE(
      ParseNameManifestFileName(".fls-n4e11c686e2c9c2da644fafce0a80afd9.manifest.tmp-1", &h));
  // int.from_bytes(sha256(bytes.fromhex(H) + b'0123456789abcdef').digest()[:8], 'big')
  EXPECT_EQ(internal::RendezvousScore("4e11c686e2c9c2da644fafce0a80afd9", "0123456789abcdef"),
            4051451868515607795ull);
}

TEST(TargetIdentity, RoundTripsAndRejectsDamage) {
  internal::TargetIdentity id;
  id.store_id = "00112233445566778899aabbccddeeff";
  id.target_id = "0123456789abcdef";
  id.created_ns = 1700000000000000000;
  id.v1_objects = true;
  id.members = {{"0123456789abcdef", "/mnt/d0/fls"}, {"fedcba9876543210", "/mnt/d1/fls"}};
  const std::string text = internal::EncodeTargetIdentity(id);
  EXPECT_EQ(text.find(' '), std::string::npos) << text;
  internal::TargetIdentity back;
  ASSERT_TRUE(internal::DecodeTargetIdentity(text, &back).ok())
      << internal::DecodeTargetIdentity(text, &back).ToString() << "\n"
      << text;
  EXPECT_EQ(back.store_id, id.store_id);
  EXPECT_EQ(back.target_id, id.target_id);
  EXPECT_EQ(back.created_ns, id.created_ns);
  EXPECT_TRUE(back.v1_objects);
  EXPECT_EQ(back.members, id.members);
  std::string altered = text;
  altered.replace(altered.find("0123456789abcdef\",\"v1"), 1, "1");
  EXPECT_NE(internal::DecodeTargetIdentity(altered, &back).message().find("checksum"),
            std::string::npos);
  EXPECT_FALSE(internal::DecodeTargetIdentity("{\"format\":\"fls-target\"}", &back).ok());
  EXPECT_FALSE(internal::DecodeTargetIdentity("not json", &back).ok());
}

}  // namespace
}  // namespace fls
