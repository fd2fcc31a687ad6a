#include "fls/manifest.h"

#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "fls/codec.h"
#include "fls/crc32c.h"
#include "fls/env.h"

namespace fls {

std::string ManifestChunk::path() const { return JoinPath(target, file); }

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

namespace {

std::string Hex32(std::uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

bool ParseHex32(const std::string& s, std::uint32_t* v) {
  if (s.size() != 8) return false;
  std::uint32_t out = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else
      return false;
    out = out * 16 + static_cast<std::uint32_t>(d);
  }
  *v = out;
  return true;
}

nlohmann::json ToJson(const Manifest& m) {
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
  if (m.format_version >= 2) j["last_block_size"] = m.last_block_size;
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

// Typed field access that names the field on failure.
template <typename T>
Status Get(const nlohmann::json& j, const char* key, const std::string& where, T* out) {
  auto it = j.find(key);
  if (it == j.end()) return Status::Corruption("manifest: missing field '" + where + key + "'");
  try {
    if constexpr (std::is_same_v<T, std::string>) {
      if (!it->is_string()) throw std::runtime_error("is not a string");
      *out = it->get<T>();
    } else if constexpr (std::is_unsigned_v<T>) {
      if (!it->is_number_unsigned()) throw std::runtime_error("is not a non-negative integer");
      const std::uint64_t v = it->get<std::uint64_t>();
      if (v > std::numeric_limits<T>::max()) throw std::runtime_error("is out of range");
      *out = static_cast<T>(v);
    } else {
      if (!it->is_number_integer()) throw std::runtime_error("is not an integer");
      if (it->is_number_unsigned() &&
          it->get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
        throw std::runtime_error("is out of range");
      const std::int64_t v = it->get<std::int64_t>();
      if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max())
        throw std::runtime_error("is out of range");
      *out = static_cast<T>(v);
    }
  } catch (const std::exception& e) {
    return Status::Corruption("manifest: field '" + where + key + "' " + e.what());
  }
  return Status::Ok();
}

}  // namespace

Status ValidateManifest(const Manifest& m) {
  if (m.format_version != 1 && m.format_version != 2)
    return Status::Corruption("manifest: unsupported format_version " +
                              std::to_string(m.format_version));
  // Each manifest version goes with its chunk format: the checksum rule and
  // the last block follow from it.
  if (m.chunk_format_version != m.format_version)
    return Status::Corruption(
        "manifest: chunk_format_version " + std::to_string(m.chunk_format_version) +
        " does not go with format_version " + std::to_string(m.format_version));
  if (m.name.empty()) return Status::Corruption("manifest: empty name");
  if (m.generation == 0) return Status::Corruption("manifest: generation 0");
  if (m.k < 1 || m.m < 1 || m.k + m.m > kMaxShards)
    return Status::Corruption("manifest: k=" + std::to_string(m.k) + " m=" + std::to_string(m.m) +
                              " out of range");
  ChunkHeader h = m.HeaderFor(0);
  Status s = ValidateChunkHeader(h);
  if (!s.ok()) return Status::Corruption("manifest parameters: " + s.message());
  if (m.sha256.size() != 64 || m.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)
    return Status::Corruption("manifest: sha256 is not 64 lower-case hex digits");
  if (static_cast<int>(m.chunks.size()) != m.k + m.m)
    return Status::Corruption("manifest: " + std::to_string(m.chunks.size()) +
                              " chunks listed, expected k + m = " + std::to_string(m.k + m.m));
  for (int i = 0; i < m.k + m.m; ++i) {
    const ManifestChunk& c = m.chunks[i];
    if (c.index != i)
      return Status::Corruption("manifest: chunks[" + std::to_string(i) + "] has index " +
                                std::to_string(c.index));
    if (c.target.empty() || c.file.empty())
      return Status::Corruption("manifest: chunks[" + std::to_string(i) + "] has no target/file");
    if (c.file.find('/') != std::string::npos)
      return Status::Corruption("manifest: chunks[" + std::to_string(i) + "].file '" + c.file +
                                "' contains '/'");
    if (c.bytes != h.geometry().chunk_file_bytes())
      return Status::Corruption("manifest: chunks[" + std::to_string(i) + "].bytes " +
                                std::to_string(c.bytes) + " is not the chunk size " +
                                std::to_string(h.geometry().chunk_file_bytes()));
  }
  return Status::Ok();
}

std::string EncodeManifest(const Manifest& m) {
  nlohmann::json j = ToJson(m);
  const std::string body = j.dump();
  j["checksum"] = Hex32(Crc32c(body.data(), body.size()));
  return j.dump(2) + "\n";
}

Status DecodeManifest(std::string_view text, Manifest* out) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    // parse_error, but also out_of_range for a number too large for any
    // type (found by fuzz/manifest_fuzz): a damaged manifest is corruption,
    // never a terminate().
    return Status::Corruption(std::string("manifest: not valid JSON: ") + e.what());
  }
  if (!j.is_object()) return Status::Corruption("manifest: top level is not a JSON object");
  std::string format, checksum;
  FLS_RETURN_IF_ERROR(Get(j, "format", "", &format));
  if (format != "fls-manifest")
    return Status::Corruption("manifest: field 'format' is '" + format + "', not 'fls-manifest'");
  int version = 0;
  FLS_RETURN_IF_ERROR(Get(j, "format_version", "", &version));
  if (version != 1 && version != 2)
    return Status::Corruption("manifest: unsupported format_version " + std::to_string(version));
  FLS_RETURN_IF_ERROR(Get(j, "checksum", "", &checksum));
  std::uint32_t stored = 0;
  if (!ParseHex32(checksum, &stored))
    return Status::Corruption("manifest: field 'checksum' is not 8 lower-case hex digits");
  j.erase("checksum");
  const std::string body = j.dump();
  if (Crc32c(body.data(), body.size()) != stored)
    return Status::Corruption("manifest: checksum mismatch (the manifest was altered or damaged)");

  Manifest m;
  m.format_version = version;
  std::string id, matrix;
  FLS_RETURN_IF_ERROR(Get(j, "name", "", &m.name));
  FLS_RETURN_IF_ERROR(Get(j, "id", "", &id));
  Status s = ObjectIdFromHex(id, &m.id);
  if (!s.ok()) return Status::Corruption("manifest: field 'id': " + s.message());
  FLS_RETURN_IF_ERROR(Get(j, "generation", "", &m.generation));
  FLS_RETURN_IF_ERROR(Get(j, "k", "", &m.k));
  FLS_RETURN_IF_ERROR(Get(j, "m", "", &m.m));
  FLS_RETURN_IF_ERROR(Get(j, "matrix", "", &matrix));
  s = ParseMatrixKind(matrix, &m.matrix);
  if (!s.ok()) return Status::Corruption("manifest: field 'matrix': " + s.message());
  FLS_RETURN_IF_ERROR(Get(j, "stripe_width", "", &m.stripe_width));
  FLS_RETURN_IF_ERROR(Get(j, "block_size", "", &m.block_size));
  FLS_RETURN_IF_ERROR(Get(j, "stripes", "", &m.stripes));
  if (version >= 2) FLS_RETURN_IF_ERROR(Get(j, "last_block_size", "", &m.last_block_size));
  FLS_RETURN_IF_ERROR(Get(j, "size", "", &m.size));
  FLS_RETURN_IF_ERROR(Get(j, "mode", "", &m.mode));
  FLS_RETURN_IF_ERROR(Get(j, "mtime_ns", "", &m.mtime_ns));
  FLS_RETURN_IF_ERROR(Get(j, "sha256", "", &m.sha256));
  FLS_RETURN_IF_ERROR(Get(j, "chunk_format_version", "", &m.chunk_format_version));
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

}  // namespace fls
