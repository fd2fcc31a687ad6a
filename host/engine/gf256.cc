#include "fls/gf256.h"

#include <array>

namespace fls::gf {
namespace {

struct Tables {
  std::array<std::uint8_t, 512> exp{};  // doubled so Exp(log a + log b) needs no modulo
  std::array<std::uint8_t, 256> log{};
  std::array<std::uint8_t, 256> inv{};
  std::array<std::uint8_t, 256 * 256> mul{};

  Tables() {
    unsigned x = 1;
    for (unsigned i = 0; i < 255; ++i) {
      exp[i] = static_cast<std::uint8_t>(x);
      log[x] = static_cast<std::uint8_t>(i);
      x <<= 1;
      if (x & 0x100) x ^= kPolynomial;
    }
    for (unsigned i = 255; i < 512; ++i) exp[i] = exp[i - 255];
    for (unsigned a = 1; a < 256; ++a) inv[a] = exp[255 - log[a]];
    for (unsigned a = 1; a < 256; ++a)
      for (unsigned b = 1; b < 256; ++b) mul[a * 256 + b] = exp[log[a] + log[b]];
  }
};

const Tables& T() {
  static const Tables tables;
  return tables;
}

}  // namespace

std::uint8_t Mul(std::uint8_t a, std::uint8_t b) { return T().mul[a * 256u + b]; }
std::uint8_t Inv(std::uint8_t a) { return T().inv[a]; }
std::uint8_t Div(std::uint8_t a, std::uint8_t b) { return Mul(a, Inv(b)); }
std::uint8_t Exp(unsigned n) { return T().exp[n % 255]; }
std::uint8_t Log(std::uint8_t a) { return T().log[a]; }

std::uint8_t Pow(std::uint8_t a, unsigned n) {
  if (n == 0) return 1;
  if (a == 0) return 0;
  return T().exp[(static_cast<unsigned long>(T().log[a]) * n) % 255];
}

const std::uint8_t* MulTable() { return T().mul.data(); }

std::uint8_t MulBitwise(std::uint8_t a, std::uint8_t b) {
  unsigned product = 0;
  for (unsigned bit = 0; bit < 8; ++bit)
    if (b & (1u << bit)) product ^= static_cast<unsigned>(a) << bit;
  for (int bit = 14; bit >= 8; --bit)
    if (product & (1u << bit)) product ^= kPolynomial << (bit - 8);
  return static_cast<std::uint8_t>(product);
}

}  // namespace fls::gf
