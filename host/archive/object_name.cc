// ValidateObjectName (fls/archive.h).
#include <cstdio>
#include <string>

#include "fls/archive.h"

namespace fls {
namespace {

// The name as printable ASCII: other bytes as \xNN, so that an error message
// about a bad name is itself safe to print and to put in JSON.
std::string Printable(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size() && i < 200; ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (name.size() > 200) out += "...";
  return out;
}

// Length of the UTF-8 sequence at s[i], or 0 when it is not well formed
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t Utf8Sequence(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t j) { return static_cast<unsigned char>(s[j]); };
  const unsigned char c = at(i);
  if (c < 0x80) return 1;
  std::size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (std::size_t j = 2; j < len; ++j)
    if (at(i + j) < 0x80 || at(i + j) > 0xBF) return 0;
  return len;
}

}  // namespace

std::size_t FindInvalidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = Utf8Sequence(s, i);
    if (len == 0) return i;
    i += len;
  }
  return std::string_view::npos;
}

Status ValidateObjectName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("object name is empty");
  if (name.size() > kMaxObjectNameBytes)
    return Status::InvalidArgument("object name '" + Printable(name) + "' is " +
                                   std::to_string(name.size()) + " bytes long, more than " +
                                   std::to_string(kMaxObjectNameBytes));
  for (std::size_t i = 0; i < name.size();) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "0x%02x", c);
      return Status::InvalidArgument("object name '" + Printable(name) +
                                     "' holds a control character (" + buf + " at byte " +
                                     std::to_string(i) + ")");
    }
    const std::size_t len = Utf8Sequence(name, i);
    if (len == 0)
      return Status::InvalidArgument("object name '" + Printable(name) +
                                     "' is not valid UTF-8 (at byte " + std::to_string(i) + ")");
    i += len;
  }
  return Status::Ok();
}

}  // namespace fls
