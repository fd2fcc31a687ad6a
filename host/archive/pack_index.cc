// The index at the end of a pack's bytes (fls/pack.h).
#include <cstring>
#include <nlohmann/json.hpp>

#include "fls/json_int.h"
#include "fls/pack.h"

namespace fls {
namespace {

void PutU64(std::string* s, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t GetU64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

bool IsPackName(const std::string& name) { return name.rfind(kPackPrefix, 0) == 0; }

std::string EncodePackTail(const std::vector<PackEntry>& entries, std::size_t reserve) {
  nlohmann::json files = nlohmann::json::array();
  for (const PackEntry& e : entries)
    files.push_back({{"name", e.name},
                     {"offset", e.offset},
                     {"length", e.length},
                     {"sha256", e.sha256},
                     {"mode", e.mode},
                     {"mtime_ns", e.mtime_ns}});
  std::string tail = nlohmann::json{{"format", kPackIndexFormat}, {"files", files}}.dump();
  // JSON allows trailing whitespace: a stream reserves the index's size
  // before the members' digests are known, and pads to it.
  if (tail.size() < reserve) tail.append(reserve - tail.size(), ' ');
  const std::uint64_t index_len = tail.size();
  PutU64(&tail, index_len);
  tail.append(kPackMagic, 8);
  return tail;
}

Status ParsePackTail(const std::string& tail, std::uint64_t pack_size, const std::string& pack,
                     std::vector<PackEntry>* entries, std::uint64_t* needed,
                     bool* recorded_members) {
  *needed = 0;
  entries->clear();
  if (tail.size() < 16 || pack_size < 16)
    return Status::Corruption("pack '" + pack + "' is shorter than its trailer");
  const char* t = tail.data() + tail.size() - 16;
  if (std::memcmp(t + 8, kPackMagic, 8) != 0)
    return Status::Corruption("pack '" + pack + "' has no FLSPACK1 trailer");
  const std::uint64_t index_len = GetU64(t);
  if (index_len > pack_size - 16)
    return Status::Corruption("pack '" + pack + "' index length " + std::to_string(index_len) +
                              " exceeds the pack");
  if (tail.size() < index_len + 16) {
    *needed = index_len + 16;
    return Status::Ok();
  }
  const std::string text = tail.substr(tail.size() - 16 - index_len, index_len);
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  // Check the type before reading "format": json::value() throws when the
  // key holds a non-string (found by fuzz/pack_index_fuzz).
  if (j.is_discarded() || !j.is_object() || !j.contains("format") || !j["format"].is_string() ||
      (j["format"].get_ref<const std::string&>() != kPackIndexFormat &&
       j["format"].get_ref<const std::string&>() != kPackIndexFormatV1) ||
      !j.contains("files") || !j["files"].is_array())
    return Status::Corruption("pack '" + pack + "' has a malformed index");
  if (recorded_members != nullptr)
    *recorded_members = j["format"].get_ref<const std::string&>() == kPackIndexFormat;
  const std::uint64_t data_end = pack_size - 16 - index_len;
  try {
    for (const auto& f : j["files"]) {
      PackEntry e;
      e.pack = pack;
      e.name = f.at("name").get<std::string>();
      e.offset = JsonInt<std::uint64_t>(f.at("offset"), "offset");
      e.length = JsonInt<std::uint64_t>(f.at("length"), "length");
      e.sha256 = f.at("sha256").get<std::string>();
      e.mode = JsonInt<std::uint32_t>(f.at("mode"), "mode");
      e.mtime_ns = JsonInt<std::int64_t>(f.at("mtime_ns"), "mtime_ns");
      if (e.offset > data_end || e.length > data_end - e.offset)
        return Status::Corruption("pack '" + pack + "' index entry '" + e.name +
                                  "' lies outside the pack's data");
      entries->push_back(std::move(e));
    }
  } catch (const std::exception& ex) {
    return Status::Corruption("pack '" + pack + "' index: " + ex.what());
  }
  return Status::Ok();
}

}  // namespace fls
