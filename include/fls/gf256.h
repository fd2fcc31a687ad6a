// GF(2^8) arithmetic with the polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11D),
// the field of ISA-L, Ceph's isa plugin, and the Go/Java Reed-Solomon libraries.
// Addition is XOR. The tables are built once, on first use, and are immutable
// afterwards. Thread-safety: every function here is safe to call concurrently.
#pragma once

#include <cstdint>

namespace fls::gf {

inline constexpr unsigned kPolynomial = 0x11D;
inline constexpr unsigned kGenerator = 2;  // a primitive element: its powers reach every non-zero

std::uint8_t Mul(std::uint8_t a, std::uint8_t b);
// Multiplicative inverse; Inv(0) is 0, as in ISA-L's gf_inv (0 has no inverse).
std::uint8_t Inv(std::uint8_t a);
// a / b for b != 0.
std::uint8_t Div(std::uint8_t a, std::uint8_t b);
// kGenerator^n, n taken modulo 255.
std::uint8_t Exp(unsigned n);
// Discrete log base kGenerator of a != 0, in [0, 254].
std::uint8_t Log(std::uint8_t a);
// a^n with 0^0 = 1 (the convention of the Vandermonde constructions).
std::uint8_t Pow(std::uint8_t a, unsigned n);

// The full 256 x 256 product table: MulTable()[a * 256 + b] == Mul(a, b).
const std::uint8_t* MulTable();

// Carry-less multiply then reduce, bit by bit: slow, but shares no table with
// the functions above, so tests can check those tables against it.
std::uint8_t MulBitwise(std::uint8_t a, std::uint8_t b);

}  // namespace fls::gf
