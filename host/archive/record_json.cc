// Strict record JSON and its canonical checksum (host/archive/record_json.h).
#include "record_json.h"

#include <cstdio>
#include <set>
#include <vector>

#include "fls/crc32c.h"

namespace fls::internal {

Status ParseRecordJson(std::string_view text, const std::string& what, nlohmann::json* out) {
  // Keys seen in each object being parsed, innermost last.
  std::vector<std::set<std::string>> open;
  bool duplicate = false;
  std::string dup_key;
  auto cb = [&](int, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (ev == E::object_start) {
      open.emplace_back();
    } else if (ev == E::object_end) {
      if (!open.empty()) open.pop_back();
    } else if (ev == E::key && !open.empty() && parsed.is_string()) {
      if (!open.back().insert(parsed.get<std::string>()).second && !duplicate) {
        duplicate = true;
        dup_key = parsed.get<std::string>();
      }
    }
    return true;
  };
  try {
    *out = nlohmann::json::parse(text.begin(), text.end(), cb);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, but also out_of_range for a number too large for any
    // type (found by fuzz/manifest_fuzz): damage, never a terminate().
    return Status::Corruption(what + ": not valid JSON: " + e.what());
  }
  if (duplicate) return Status::Corruption(what + ": key '" + dup_key + "' appears twice");
  if (!out->is_object()) return Status::Corruption(what + ": top level is not a JSON object");
  return Status::Ok();
}

std::string CanonicalChecksum(const nlohmann::json& j) {
  const std::string body = j.dump();
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", Crc32c(body.data(), body.size()));
  return buf;
}

bool IsLowerHex(std::string_view s, std::size_t digits) {
  return s.size() == digits && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

Status CheckAndRemoveChecksum(nlohmann::json* j, const std::string& what) {
  auto it = j->find("checksum");
  if (it == j->end()) return Status::Corruption(what + ": missing field 'checksum'");
  if (!it->is_string() || !IsLowerHex(it->get_ref<const std::string&>(), 8))
    return Status::Corruption(what + ": field 'checksum' is not 8 lower-case hex digits");
  const std::string stored = it->get<std::string>();
  j->erase(it);
  if (CanonicalChecksum(*j) != stored)
    return Status::Corruption(what + ": checksum mismatch (the record was altered or damaged)");
  return Status::Ok();
}

Status ReadRecordFile(Env* env, const std::string& path, std::size_t max_bytes,
                      const std::string& what, std::string* text) {
  std::unique_ptr<RandomAccessFile> f;
  FileInfo info;
  FLS_RETURN_IF_ERROR(env->NewRandomAccessFileNoFollow(path, &f, &info));
  if (info.size > max_bytes)
    return Status::Corruption(path + ": " + std::to_string(info.size) + " bytes, more than " +
                              what + " can be");
  text->resize(info.size);
  std::size_t got = 0;
  FLS_RETURN_IF_ERROR(f->Read(0, text->size(), text->data(), &got));
  text->resize(got);
  return Status::Ok();
}

}  // namespace fls::internal
