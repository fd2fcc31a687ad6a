// The path-addressed manifest JSON, versions 1 and 2 (docs/FORMAT.md,
// "Version 1 and 2 manifests"): targets named by directory path, one file per
// generation; version 2 adds last_block_size (chunk format 2). Still read,
// and still written for such objects (a repair of one keeps its version).
#include "fls/codec.h"
#include "manifest_json.h"

namespace fls::internal {

nlohmann::json ManifestV1ToJson(const Manifest& m) {
  nlohmann::json j;
  j["format"] = "fls-manifest";
  j["format_version"] = m.format_version;
  j["name"] = m.name;
  j["id"] = ObjectIdToHex(m.id);
  j["generation"] = m.generation;
  j["k"] = m.k;
  j["m"] = m.m;
  j["matrix"] = std::string(MatrixKindName(m.matrix));
  j["stripe_width"] = m.stripe_width;
  j["block_size"] = m.block_size;
  j["stripes"] = m.stripes;
  if (m.format_version >= kManifestFormatVersion2) j["last_block_size"] = m.last_block_size;
  j["size"] = m.size;
  j["mode"] = m.mode;
  j["mtime_ns"] = m.mtime_ns;
  j["sha256"] = m.sha256;
  j["chunk_format_version"] = m.chunk_format_version;
  j["chunks"] = nlohmann::json::array();
  for (const ManifestChunk& c : m.chunks)
    j["chunks"].push_back({{"index", c.index},
                           {"target", c.target},
                           {"domain", c.domain},
                           {"file", c.file},
                           {"crc32c", Hex32(c.crc32c)},
                           {"bytes", c.bytes}});
  j["manifest_targets"] = m.manifest_targets;
  return j;
}

Status DecodeManifestV1(const nlohmann::json& j, int version, Manifest* out) {
  Manifest m;
  m.format_version = version;
  FLS_RETURN_IF_ERROR(GetCommonFields(j, &m));
  auto chunks = j.find("chunks");
  if (chunks == j.end() || !chunks->is_array())
    return Status::Corruption("manifest: field 'chunks' missing or not an array");
  if (chunks->size() > kMaxShards)
    return Status::Corruption("manifest: field 'chunks' has too many entries");
  for (std::size_t i = 0; i < chunks->size(); ++i) {
    const nlohmann::json& c = (*chunks)[i];
    const std::string where = "chunks[" + std::to_string(i) + "].";
    if (!c.is_object()) return Status::Corruption("manifest: " + where + " is not an object");
    ManifestChunk mc;
    std::string crc;
    FLS_RETURN_IF_ERROR(Get(c, "index", where, &mc.index));
    FLS_RETURN_IF_ERROR(Get(c, "target", where, &mc.target));
    FLS_RETURN_IF_ERROR(Get(c, "domain", where, &mc.domain));
    FLS_RETURN_IF_ERROR(Get(c, "file", where, &mc.file));
    FLS_RETURN_IF_ERROR(Get(c, "crc32c", where, &crc));
    if (!ParseHex32(crc, &mc.crc32c))
      return Status::Corruption("manifest: field '" + where + "crc32c' is not 8 hex digits");
    FLS_RETURN_IF_ERROR(Get(c, "bytes", where, &mc.bytes));
    m.chunks.push_back(std::move(mc));
  }
  auto targets = j.find("manifest_targets");
  if (targets == j.end() || !targets->is_array())
    return Status::Corruption("manifest: field 'manifest_targets' missing or not an array");
  for (const auto& t : *targets) {
    if (!t.is_string()) return Status::Corruption("manifest: manifest_targets entry not a string");
    m.manifest_targets.push_back(t.get<std::string>());
  }
  FLS_RETURN_IF_ERROR(ValidateManifest(m));
  *out = std::move(m);
  return Status::Ok();
}

}  // namespace fls::internal
