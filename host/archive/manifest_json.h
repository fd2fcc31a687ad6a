// Field access shared by the manifest's path-addressed (1, 2) and version 3 codecs
// (manifest.cc, manifest_v1.cc): typed reads that name the field at fault.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "fls/manifest.h"
#include "fls/status.h"

namespace fls::internal {

inline std::string Hex32(std::uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

bool ParseHex32(const std::string& s, std::uint32_t* v);

// j[key] as T; Corruption "manifest: ..." naming `where` + key when it is
// missing, of another JSON type, a float, or out of T's range.
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

// The fields both versions share, read from a parsed, checksum-checked `j`
// (everything but chunks and manifest targets); reads last_block_size when
// m->format_version (set by the caller) has it.
Status GetCommonFields(const nlohmann::json& j, Manifest* m);

// Versions 1 and 2 (manifest_v1.cc): the JSON of `m` in m.format_version,
// and the decode of a parsed, checksum-checked version 1 or 2 object into `m`.
nlohmann::json ManifestV1ToJson(const Manifest& m);
Status DecodeManifestV1(const nlohmann::json& j, int version, Manifest* m);

}  // namespace fls::internal
