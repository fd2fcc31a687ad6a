// The JSON of fls's small on-disk records (manifests, target identities):
// one strict parse and the canonical form their checksum covers
// (docs/FORMAT.md, "Canonical JSON").
//
// Canonical form: nlohmann::json::dump() without indentation: object keys
// sorted by byte value, no whitespace, strings escaped as dump() does
// (\" \\ \b \f \n \r \t, other bytes below 0x20 as \u00xx, everything else
// raw UTF-8), integers in plain decimal.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fls/env.h"
#include "fls/status.h"

namespace fls::internal {

// Parses `text`; Corruption starting with `what` when it is not JSON, when
// its top level is not an object, or when an object has a key twice (the
// checksum could not say which one was meant).
Status ParseRecordJson(std::string_view text, const std::string& what, nlohmann::json* out);

// 8 lower-case hex digits of CRC32C(canonical form of `j`).
std::string CanonicalChecksum(const nlohmann::json& j);

// Checks j["checksum"] against the canonical form of the rest and removes
// it; Corruption starting with `what` when it is missing, malformed or wrong.
Status CheckAndRemoveChecksum(nlohmann::json* j, const std::string& what);

// Reads a small record file (a manifest copy, a member record) opened with
// O_NOFOLLOW and sized through the open file (fstat): a symbolic link
// planted under the record's name is refused, never followed. Corruption
// "PATH: N bytes, more than WHAT can be" above `max_bytes`.
Status ReadRecordFile(Env* env, const std::string& path, std::size_t max_bytes,
                      const std::string& what, std::string* text);

// True for exactly `digits` lower-case hex digits.
bool IsLowerHex(std::string_view s, std::size_t digits);

}  // namespace fls::internal
