// Byte sizes as people write them: "4096", "64K", "1M", "16MiB", "1G".
// Suffixes are binary (K = 1024). Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fls/status.h"

namespace fls {

// InvalidArgument naming the text when it is not a size.
Status ParseByteSize(std::string_view text, std::uint64_t* bytes);

// 65536 -> "64 KiB", 1048579 -> "1048579 B" (exact units only).
std::string FormatByteSize(std::uint64_t bytes);

}  // namespace fls
