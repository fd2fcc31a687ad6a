// JsonInt: reads an integer from a JSON value strictly. nlohmann's get<int>()
// converts a float such as 6.7e134 with undefined behaviour and silently
// truncates a too-large integer; values read from the wire or from storage
// targets must do neither (found by fuzz/protocol_fuzz).
// Thread-safety: a pure function.
#pragma once

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <nlohmann/json.hpp>

namespace fls {

// The value of `v` as T. Throws std::out_of_range naming `what` when `v` is
// not an integer (floats included) or does not fit T.
template <typename T>
T JsonInt(const nlohmann::json& v, std::string_view what) {
  static_assert(std::is_integral_v<T>);
  if (!v.is_number_integer())
    throw std::out_of_range("'" + std::string(what) + "' is not an integer");
  if (v.is_number_unsigned()) {
    const std::uint64_t u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
      throw std::out_of_range("'" + std::string(what) + "' is too large (" + std::to_string(u) +
                              ")");
    return static_cast<T>(u);
  }
  const std::int64_t i = v.get<std::int64_t>();
  if ((std::is_unsigned_v<T> && i < 0) ||
      (std::is_signed_v<T> && i < static_cast<std::int64_t>(std::numeric_limits<T>::min())) ||
      (i > 0 &&
       static_cast<std::uint64_t>(i) > static_cast<std::uint64_t>(std::numeric_limits<T>::max())))
    throw std::out_of_range("'" + std::string(what) + "' is out of range (" + std::to_string(i) +
                            ")");
  return static_cast<T>(i);
}

}  // namespace fls
