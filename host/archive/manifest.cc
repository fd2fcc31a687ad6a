// Manifest file names, validation, and the version 3 JSON codec
// (fls/manifest.h); versions 1 and 2 (path-addressed) are in manifest_v1.cc.
#include "fls/manifest.h"

#include <openssl/sha.h>

#include <set>

#include "fls/codec.h"
#include "fls/env.h"
#include "manifest_json.h"
#include "record_json.h"

namespace fls {

using internal::Get;
using internal::Hex32;

std::string ManifestChunk::path() const { return target.empty() ? "" : JoinPath(target, file); }

ChunkHeader Manifest::HeaderFor(int index) const {
  ChunkHeader h;
  h.format_version = static_cast<std::uint16_t>(chunk_format_version);
  h.object_id = id;
  h.chunk_index = static_cast<std::uint16_t>(index);
  h.k = static_cast<std::uint16_t>(k);
  h.m = static_cast<std::uint16_t>(m);
  h.matrix = matrix;
  h.stripe_width = stripe_width;
  h.block_size = block_size;
  h.file_size = size;
  h.stripe_count = stripes;
  if (chunk_format_version >= 2) h.last_block_size = last_block_size;
  return h;
}

StripeGeometry Manifest::geometry() const {
  return StripeGeometry::ForChunkFormat(chunk_format_version, k, block_size, size);
}

std::string ChunkFileName(const ObjectId& id, int index) {
  return "fls-" + ObjectIdToHex(id) + ".c" + std::to_string(index) + ".chunk";
}

std::string NameHash(std::string_view name) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(name.data()), name.size(), digest);
  static const char* kHex = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 15];
  }
  return out;
}

std::string NameManifestFileName(std::string_view name) {
  return "fls-n" + NameHash(name) + ".manifest";
}

bool ParseNameManifestFileName(std::string_view file, std::string* hash) {
  constexpr std::string_view kPrefix = "fls-n", kSuffix = ".manifest";
  if (file.size() != kPrefix.size() + 32 + kSuffix.size()) return false;
  if (file.substr(0, kPrefix.size()) != kPrefix || file.substr(kPrefix.size() + 32) != kSuffix)
    return false;
  const std::string_view h = file.substr(kPrefix.size(), 32);
  if (!internal::IsLowerHex(h, 32)) return false;
  hash->assign(h);
  return true;
}

std::string ManifestFileNameOf(const Manifest& m) {
  return IsPathAddressedManifest(m.format_version) ? ManifestFileName(m.id, m.generation)
                                                   : NameManifestFileName(m.name);
}

std::string ManifestFileName(const ObjectId& id, std::uint64_t generation) {
  return "fls-" + ObjectIdToHex(id) + ".g" + std::to_string(generation) + ".manifest";
}

bool ParseManifestFileName(std::string_view name, ObjectId* id, std::uint64_t* generation) {
  constexpr std::string_view kPrefix = "fls-", kSuffix = ".manifest";
  if (name.size() < kPrefix.size() + 32 + 3 + kSuffix.size()) return false;
  if (name.substr(0, 4) != kPrefix || name.substr(name.size() - kSuffix.size()) != kSuffix)
    return false;
  if (name.substr(36, 2) != ".g") return false;
  if (!ObjectIdFromHex(std::string(name.substr(4, 32)), id).ok()) return false;
  const std::string_view digits = name.substr(38, name.size() - 38 - kSuffix.size());
  if (digits.empty() || digits.size() > 18) return false;
  std::uint64_t g = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    g = g * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (g == 0) return false;
  *generation = g;
  return true;
}

bool ParseChunkFileName(std::string_view name, ObjectId* id, int* index) {
  constexpr std::string_view kPrefix = "fls-", kSuffix = ".chunk";
  if (name.size() < kPrefix.size() + 32 + 3 + kSuffix.size()) return false;
  if (name.substr(0, 4) != kPrefix || name.substr(name.size() - kSuffix.size()) != kSuffix)
    return false;
  if (name.substr(36, 2) != ".c") return false;
  if (!ObjectIdFromHex(std::string(name.substr(4, 32)), id).ok()) return false;
  const std::string_view digits = name.substr(38, name.size() - 38 - kSuffix.size());
  if (digits.empty() || digits.size() > 3) return false;
  int i = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    i = i * 10 + (c - '0');
  }
  if (i > 255 || (digits.size() > 1 && digits[0] == '0')) return false;
  *index = i;
  return true;
}

bool IsTargetId(std::string_view id) { return internal::IsLowerHex(id, 16); }

namespace internal {

bool ParseHex32(const std::string& s, std::uint32_t* v) {
  if (!IsLowerHex(s, 8)) return false;
  *v = static_cast<std::uint32_t>(std::stoul(s, nullptr, 16));
  return true;
}

Status GetCommonFields(const nlohmann::json& j, Manifest* m) {
  std::string id, matrix;
  FLS_RETURN_IF_ERROR(Get(j, "name", "", &m->name));
  FLS_RETURN_IF_ERROR(Get(j, "id", "", &id));
  Status s = ObjectIdFromHex(id, &m->id);
  if (!s.ok()) return Status::Corruption("manifest: field 'id': " + s.message());
  FLS_RETURN_IF_ERROR(Get(j, "generation", "", &m->generation));
  FLS_RETURN_IF_ERROR(Get(j, "k", "", &m->k));
  FLS_RETURN_IF_ERROR(Get(j, "m", "", &m->m));
  FLS_RETURN_IF_ERROR(Get(j, "matrix", "", &matrix));
  s = ParseMatrixKind(matrix, &m->matrix);
  if (!s.ok()) return Status::Corruption("manifest: field 'matrix': " + s.message());
  FLS_RETURN_IF_ERROR(Get(j, "stripe_width", "", &m->stripe_width));
  FLS_RETURN_IF_ERROR(Get(j, "block_size", "", &m->block_size));
  FLS_RETURN_IF_ERROR(Get(j, "stripes", "", &m->stripes));
  // Chunk format 2 (manifest versions 2 and 3) sizes the last stripe to its
  // bytes; version 1's last block is block_size.
  if (m->format_version >= kManifestFormatVersion2)
    FLS_RETURN_IF_ERROR(Get(j, "last_block_size", "", &m->last_block_size));
  FLS_RETURN_IF_ERROR(Get(j, "size", "", &m->size));
  FLS_RETURN_IF_ERROR(Get(j, "mode", "", &m->mode));
  FLS_RETURN_IF_ERROR(Get(j, "mtime_ns", "", &m->mtime_ns));
  FLS_RETURN_IF_ERROR(Get(j, "sha256", "", &m->sha256));
  FLS_RETURN_IF_ERROR(Get(j, "chunk_format_version", "", &m->chunk_format_version));
  return Status::Ok();
}

}  // namespace internal

namespace {

// Version 3's keys: a key not listed is an error (a new key needs a new
// format_version, so an older reader never misreads what it does not know).
const std::set<std::string> kTopKeysV2 = {"block_size",
                                          "checksum",
                                          "chunk_format_version",
                                          "chunks",
                                          "format",
                                          "format_version",
                                          "generation",
                                          "id",
                                          "k",
                                          "kind",
                                          "last_block_size",
                                          "m",
                                          "manifest_targets",
                                          "matrix",
                                          "mode",
                                          "mtime_ns",
                                          "name",
                                          "sha256",
                                          "size",
                                          "stripe_width",
                                          "stripes"};
const std::set<std::string> kChunkKeysV2 = {"bytes", "crc32c", "file", "index", "target"};
// Optional in an object's version 3 manifest: present only when set.
constexpr char kRetainKey[] = "retain_until_ns";
// Every key of a tombstone (kind "tombstone"), all required.
const std::set<std::string> kTombstoneKeys = {
    "checksum", "deleted_ns", "format", "format_version",   "generation", "id",
    "k",        "kind",       "m",      "manifest_targets", "name"};

Status CheckKeys(const nlohmann::json& j, const std::set<std::string>& known,
                 const std::string& where) {
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key()))
      return Status::Corruption("manifest: unknown field '" + where + it.key() + "'");
  return Status::Ok();
}

nlohmann::json ManifestV3ToJson(const Manifest& m) {
  nlohmann::json j;
  j["format"] = "fls-manifest";
  j["format_version"] = kManifestFormatVersion;
  j["kind"] = m.tombstone ? "tombstone" : "object";
  j["name"] = m.name;
  j["id"] = ObjectIdToHex(m.id);
  j["generation"] = m.generation;
  j["k"] = m.k;
  j["m"] = m.m;
  j["manifest_targets"] = m.manifest_target_ids;
  if (m.tombstone) {
    j["deleted_ns"] = m.deleted_ns;
    return j;
  }
  if (m.retain_until_ns != 0) j[kRetainKey] = m.retain_until_ns;
  j["matrix"] = std::string(MatrixKindName(m.matrix));
  j["stripe_width"] = m.stripe_width;
  j["block_size"] = m.block_size;
  j["stripes"] = m.stripes;
  j["last_block_size"] = m.last_block_size;
  j["size"] = m.size;
  j["mode"] = m.mode;
  j["mtime_ns"] = m.mtime_ns;
  j["sha256"] = m.sha256;
  j["chunk_format_version"] = m.chunk_format_version;
  j["chunks"] = nlohmann::json::array();
  for (const ManifestChunk& c : m.chunks)
    j["chunks"].push_back({{"index", c.index},
                           {"target", c.target_id},
                           {"file", c.file},
                           {"crc32c", Hex32(c.crc32c)},
                           {"bytes", c.bytes}});
  return j;
}

Status GetManifestTargets(const nlohmann::json& j, Manifest* m) {
  auto targets = j.find("manifest_targets");
  if (targets == j.end() || !targets->is_array() || targets->size() > kMaxShards)
    return Status::Corruption("manifest: field 'manifest_targets' missing or not an array");
  for (const auto& t : *targets) {
    if (!t.is_string()) return Status::Corruption("manifest: manifest_targets entry not a string");
    m->manifest_target_ids.push_back(t.get<std::string>());
  }
  return Status::Ok();
}

Status DecodeTombstone(const nlohmann::json& j, Manifest* out) {
  FLS_RETURN_IF_ERROR(CheckKeys(j, kTombstoneKeys, ""));
  Manifest m;
  m.tombstone = true;
  std::string id;
  FLS_RETURN_IF_ERROR(Get(j, "name", "", &m.name));
  FLS_RETURN_IF_ERROR(Get(j, "id", "", &id));
  Status s = ObjectIdFromHex(id, &m.id);
  if (!s.ok()) return Status::Corruption("manifest: field 'id': " + s.message());
  FLS_RETURN_IF_ERROR(Get(j, "generation", "", &m.generation));
  FLS_RETURN_IF_ERROR(Get(j, "k", "", &m.k));
  FLS_RETURN_IF_ERROR(Get(j, "m", "", &m.m));
  FLS_RETURN_IF_ERROR(Get(j, "deleted_ns", "", &m.deleted_ns));
  FLS_RETURN_IF_ERROR(GetManifestTargets(j, &m));
  FLS_RETURN_IF_ERROR(ValidateManifest(m));
  *out = std::move(m);
  return Status::Ok();
}

Status DecodeManifestV3(const nlohmann::json& j, Manifest* out) {
  std::string kind;
  FLS_RETURN_IF_ERROR(Get(j, "kind", "", &kind));
  if (kind == "tombstone") return DecodeTombstone(j, out);
  if (kind != "object")
    return Status::Corruption("manifest: field 'kind' is '" + kind +
                              "'; this reader knows 'object' and 'tombstone'");
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!kTopKeysV2.count(it.key()) && it.key() != kRetainKey)
      return Status::Corruption("manifest: unknown field '" + it.key() + "'");
  Manifest m;
  m.format_version = kManifestFormatVersion;
  FLS_RETURN_IF_ERROR(internal::GetCommonFields(j, &m));
  if (j.contains(kRetainKey)) {
    FLS_RETURN_IF_ERROR(Get(j, kRetainKey, "", &m.retain_until_ns));
    if (m.retain_until_ns == 0)
      return Status::Corruption("manifest: field 'retain_until_ns' is 0 (omit it instead)");
  }
  auto chunks = j.find("chunks");
  if (chunks == j.end() || !chunks->is_array())
    return Status::Corruption("manifest: field 'chunks' missing or not an array");
  if (chunks->size() > kMaxShards)
    return Status::Corruption("manifest: field 'chunks' has too many entries");
  for (std::size_t i = 0; i < chunks->size(); ++i) {
    const nlohmann::json& c = (*chunks)[i];
    const std::string where = "chunks[" + std::to_string(i) + "].";
    if (!c.is_object()) return Status::Corruption("manifest: " + where + " is not an object");
    FLS_RETURN_IF_ERROR(CheckKeys(c, kChunkKeysV2, where));
    ManifestChunk mc;
    std::string crc;
    FLS_RETURN_IF_ERROR(Get(c, "index", where, &mc.index));
    FLS_RETURN_IF_ERROR(Get(c, "target", where, &mc.target_id));
    FLS_RETURN_IF_ERROR(Get(c, "file", where, &mc.file));
    FLS_RETURN_IF_ERROR(Get(c, "crc32c", where, &crc));
    if (!internal::ParseHex32(crc, &mc.crc32c))
      return Status::Corruption("manifest: field '" + where + "crc32c' is not 8 hex digits");
    FLS_RETURN_IF_ERROR(Get(c, "bytes", where, &mc.bytes));
    m.chunks.push_back(std::move(mc));
  }
  FLS_RETURN_IF_ERROR(GetManifestTargets(j, &m));
  FLS_RETURN_IF_ERROR(ValidateManifest(m));
  *out = std::move(m);
  return Status::Ok();
}

Status ValidateManifestTargets(const Manifest& m) {
  if (m.manifest_target_ids.empty())
    return Status::Corruption("manifest: field 'manifest_targets' is empty");
  std::set<std::string> seen;
  for (const std::string& t : m.manifest_target_ids) {
    if (!IsTargetId(t))
      return Status::Corruption("manifest: manifest_targets entry '" + t + "' is not a target id");
    if (!seen.insert(t).second)
      return Status::Corruption("manifest: manifest_targets lists '" + t + "' twice");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateManifest(const Manifest& m) {
  // v1: path-addressed (versions 1 and 2); else name-addressed (version 3).
  const bool v1 = IsPathAddressedManifest(m.format_version);
  if (m.format_version < kManifestFormatVersion1 || m.format_version > kManifestFormatVersion)
    return Status::Corruption("manifest: unsupported format_version " +
                              std::to_string(m.format_version));
  // Each manifest version goes with one chunk format: the checksum rule and
  // the last block follow from it.
  const int chunk_version = m.format_version == kManifestFormatVersion1 ? 1 : 2;
  if (m.chunk_format_version != chunk_version)
    return Status::Corruption(
        "manifest: chunk_format_version " + std::to_string(m.chunk_format_version) +
        " does not go with format_version " + std::to_string(m.format_version));
  if (m.name.empty()) return Status::Corruption("manifest: empty name");
  if (m.generation == 0) return Status::Corruption("manifest: generation 0");
  if (m.k < 1 || m.m < 1 || m.k + m.m > kMaxShards)
    return Status::Corruption("manifest: k=" + std::to_string(m.k) + " m=" + std::to_string(m.m) +
                              " out of range");
  if (m.tombstone) {
    if (v1) return Status::Corruption("manifest: a tombstone is always version 3");
    return ValidateManifestTargets(m);
  }
  ChunkHeader h = m.HeaderFor(0);
  Status s = ValidateChunkHeader(h);
  if (!s.ok()) return Status::Corruption("manifest parameters: " + s.message());
  if (!internal::IsLowerHex(m.sha256, 64))
    return Status::Corruption("manifest: sha256 is not 64 lower-case hex digits");
  if (static_cast<int>(m.chunks.size()) != m.k + m.m)
    return Status::Corruption("manifest: " + std::to_string(m.chunks.size()) +
                              " chunks listed, expected k + m = " + std::to_string(m.k + m.m));
  for (int i = 0; i < m.k + m.m; ++i) {
    const ManifestChunk& c = m.chunks[i];
    const std::string where = "manifest: chunks[" + std::to_string(i) + "]";
    if (c.index != i) return Status::Corruption(where + " has index " + std::to_string(c.index));
    if (v1 && (c.target.empty() || c.file.empty()))
      return Status::Corruption(where + " has no target/file");
    if (!v1 && !IsTargetId(c.target_id))
      return Status::Corruption(where + ".target '" + c.target_id +
                                "' is not a target id (16 lower-case hex digits)");
    if (c.file.find('/') != std::string::npos)
      return Status::Corruption(where + ".file '" + c.file + "' contains '/'");
    if (!v1 && c.file != ChunkFileName(m.id, i))
      return Status::Corruption(where + ".file '" + c.file + "' is not " + ChunkFileName(m.id, i));
    if (c.bytes != h.geometry().chunk_file_bytes())
      return Status::Corruption(where + ".bytes " + std::to_string(c.bytes) +
                                " is not the chunk size " +
                                std::to_string(h.geometry().chunk_file_bytes()));
  }
  return v1 ? Status::Ok() : ValidateManifestTargets(m);
}

std::string EncodeManifest(const Manifest& m) {
  const bool v1 = IsPathAddressedManifest(m.format_version);
  nlohmann::json j = v1 ? internal::ManifestV1ToJson(m) : ManifestV3ToJson(m);
  j["checksum"] = internal::CanonicalChecksum(j);
  return (v1 ? j.dump(2) : j.dump()) + "\n";
}

Status DecodeManifest(std::string_view text, Manifest* out) {
  nlohmann::json j;
  FLS_RETURN_IF_ERROR(internal::ParseRecordJson(text, "manifest", &j));
  std::string format;
  FLS_RETURN_IF_ERROR(Get(j, "format", "", &format));
  if (format != "fls-manifest")
    return Status::Corruption("manifest: field 'format' is '" + format + "', not 'fls-manifest'");
  int version = 0;
  FLS_RETURN_IF_ERROR(Get(j, "format_version", "", &version));
  if (version < kManifestFormatVersion1 || version > kManifestFormatVersion)
    return Status::Corruption("manifest: unsupported format_version " + std::to_string(version));
  FLS_RETURN_IF_ERROR(internal::CheckAndRemoveChecksum(&j, "manifest"));
  return IsPathAddressedManifest(version) ? internal::DecodeManifestV1(j, version, out)
                                          : DecodeManifestV3(j, out);
}

}  // namespace fls
