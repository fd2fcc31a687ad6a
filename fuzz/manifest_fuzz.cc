// libFuzzer target: DecodeManifest (both format versions) and the target
// identity decoder on arbitrary text (both are read from storage targets
// that may hold anything). An accepted manifest must validate and survive an
// encode/decode round trip unchanged; so must an accepted identity.
#include <cstdint>
#include <cstdio>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fls/crc32c.h"
#include "fls/manifest.h"
#include "fuzz_util.h"
#include "host/archive/target_identity.h"

namespace {

void DecodeOne(std::string_view text) {
  fls::Manifest m;
  const fls::Status s = fls::DecodeManifest(text, &m);
  if (!s.ok()) {
    FLS_FUZZ_CHECK(!s.ToString().empty());
    return;
  }
  FLS_FUZZ_CHECK(fls::ValidateManifest(m).ok());
  const std::string again = fls::EncodeManifest(m);
  fls::Manifest m2;
  FLS_FUZZ_CHECK(fls::DecodeManifest(again, &m2).ok());
  FLS_FUZZ_CHECK(fls::EncodeManifest(m2) == again);
  for (int i = 0; i < m.k + m.m; ++i) (void)m.HeaderFor(i);
  // Manifest file names are parsed from directory listings too.
  fls::ObjectId id;
  std::uint64_t gen = 0;
  (void)fls::ParseManifestFileName(text, &id, &gen);
  std::string hash;
  if (fls::ParseNameManifestFileName(text, &hash)) FLS_FUZZ_CHECK(hash.size() == 32);
}

void DecodeIdentity(std::string_view text) {
  fls::internal::TargetIdentity id;
  if (!fls::internal::DecodeTargetIdentity(text, &id).ok()) return;
  const std::string again = fls::internal::EncodeTargetIdentity(id);
  fls::internal::TargetIdentity id2;
  FLS_FUZZ_CHECK(fls::internal::DecodeTargetIdentity(again, &id2).ok());
  FLS_FUZZ_CHECK(fls::internal::EncodeTargetIdentity(id2) == again);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  DecodeOne(text);
  DecodeIdentity(text);
  // Again with the checksum made right (CRC32C of the compact JSON without
  // it, docs/FORMAT.md), so that mutations reach the field checks behind it.
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (!j.is_object() || !j.contains("checksum")) return 0;
  j.erase("checksum");
  const std::string body = j.dump();
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", fls::Crc32c(body.data(), body.size()));
  j["checksum"] = hex;
  DecodeOne(j.dump());
  DecodeIdentity(j.dump());
  return 0;
}
