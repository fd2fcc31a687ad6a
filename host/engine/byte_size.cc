#include "fls/byte_size.h"

#include <cctype>
#include <limits>

namespace fls {

Status ParseByteSize(std::string_view text, std::uint64_t* bytes) {
  const std::string quoted = "'" + std::string(text) + "'";
  std::size_t i = 0;
  std::uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    const std::uint64_t digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
      return Status::InvalidArgument("size " + quoted + " is too large");
    value = value * 10 + digit;
    ++i;
  }
  if (i == 0) return Status::InvalidArgument("size " + quoted + " does not start with a number");
  std::string suffix;
  for (; i < text.size(); ++i) suffix.push_back(static_cast<char>(std::toupper(text[i])));
  unsigned shift = 0;
  if (suffix.empty() || suffix == "B")
    shift = 0;
  else if (suffix == "K" || suffix == "KB" || suffix == "KIB")
    shift = 10;
  else if (suffix == "M" || suffix == "MB" || suffix == "MIB")
    shift = 20;
  else if (suffix == "G" || suffix == "GB" || suffix == "GIB")
    shift = 30;
  else if (suffix == "T" || suffix == "TB" || suffix == "TIB")
    shift = 40;
  else
    return Status::InvalidArgument("size " + quoted + " has an unknown unit (use K, M, G or T)");
  if (shift && value > (std::numeric_limits<std::uint64_t>::max() >> shift))
    return Status::InvalidArgument("size " + quoted + " is too large");
  *bytes = value << shift;
  return Status::Ok();
}

std::string FormatByteSize(std::uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (u < 4 && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return std::to_string(bytes) + " " + units[u];
}

}  // namespace fls
