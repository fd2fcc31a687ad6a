#include "gfni_backend.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "fls/crc32c.h"
#include "fls/gf256.h"

namespace fls {
namespace gfni {
namespace {

// x^n mod the CRC32C polynomial (0x1EDC6F41), bit-reflected into the high 32
// bits of a 64-bit carry-less multiply operand (coefficient of x^d at bit 63 - d).
std::uint64_t ReflectedXPowModCrc32c(unsigned n) {
  std::uint64_t r = 1;  // x^0, normal order
  for (unsigned i = 0; i < n; ++i) {
    r <<= 1;
    if (r & (1ull << 32)) r ^= (1ull << 32) | 0x1EDC6F41u;
  }
  std::uint64_t reflected = 0;
  for (int d = 0; d < 32; ++d)
    if (r & (1ull << d)) reflected |= 1ull << (63 - d);
  return reflected;
}

}  // namespace

std::uint64_t AffineOperand(std::uint8_t c) {
  // GF2P8AFFINEQB sets result bit i to parity(operand.byte[7 - i] & x): byte
  // 7 - i is the mask of the bits of x whose products with c have bit i set.
  std::uint64_t operand = 0;
  for (int i = 0; i < 8; ++i) {
    std::uint64_t row = 0;
    for (int j = 0; j < 8; ++j)
      row |= static_cast<std::uint64_t>((gf::Mul(c, 1u << j) >> i) & 1) << j;
    operand |= row << (8 * (7 - i));
  }
  return operand;
}

CrcFoldConstants MakeCrcFoldConstants() {
  return {ReflectedXPowModCrc32c(575), ReflectedXPowModCrc32c(511)};
}

}  // namespace gfni

namespace {

constexpr std::size_t kMaxCachedOperands = 4096;
constexpr std::size_t kDefaultL2Bytes = 1 << 20;
constexpr std::size_t kMinTileBytes = 1024;

// The core's L2 size: sysconf, else sysfs, else 1 MiB.
std::size_t L2Bytes() {
  const long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (v > 0) return static_cast<std::size_t>(v);
  std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index2/size");
  std::size_t n = 0;
  char unit = 0;
  if (in >> n) {
    if (in >> unit && (unit == 'K' || unit == 'k')) n <<= 10;
    if (unit == 'M' || unit == 'm') n <<= 20;
    if (n >= 64 * 1024) return n;
  }
  return kDefaultL2Bytes;
}

}  // namespace

std::string_view GfniBackend::IsaName(Isa isa) { return isa == Isa::kAvx512 ? "avx512" : "avx2"; }

Status GfniBackend::ParseIsa(std::string_view name, Isa* isa) {
  if (name == "avx512") {
    *isa = Isa::kAvx512;
  } else if (name == "avx2") {
    *isa = Isa::kAvx2;
  } else {
    return Status::InvalidArgument("gfni ISA '" + std::string(name) + "' is not avx512 or avx2");
  }
  return Status::Ok();
}

bool GfniBackend::Supported(Isa isa, std::string* why) {
  // libgcc's feature bits also check that the OS saves the AVX/AVX-512 state.
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("gfni")) {
    *why = "CPU lacks GFNI";
    return false;
  }
  if (isa == Isa::kAvx512) {
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl")) {
      *why = "CPU lacks AVX-512 (F, BW, VL)";
      return false;
    }
  } else if (!__builtin_cpu_supports("avx2")) {
    *why = "CPU lacks AVX2";
    return false;
  }
  return true;
}

bool GfniBackend::Probe(Isa* best, std::string* detail) {
  std::string why512;
  if (Supported(Isa::kAvx512, &why512)) {
    *best = Isa::kAvx512;
    *detail = __builtin_cpu_supports("vpclmulqdq") ? "AVX-512 + GFNI, CRC32C folded (VPCLMULQDQ)"
                                                   : "AVX-512 + GFNI";
    return true;
  }
  if (Supported(Isa::kAvx2, detail)) {
    *best = Isa::kAvx2;
    *detail = "AVX2 + GFNI (" + why512 + ")";
    return true;
  }
  return false;
}

Status GfniBackend::Create(std::shared_ptr<const Codec> codec, int threads, Isa isa,
                           std::unique_ptr<GfniBackend>* backend) {
  std::string why;
  if (!Supported(isa, &why))
    return Status::Unavailable("backend 'gfni' (" + std::string(IsaName(isa)) + "): " + why);
  backend->reset(new GfniBackend(std::move(codec), threads, isa));
  return Status::Ok();
}

GfniBackend::GfniBackend(std::shared_ptr<const Codec> codec, int threads, Isa isa)
    : Backend(std::move(codec)),
      pool_(threads),
      isa_(isa),
      fold_crc_(isa == Isa::kAvx512 && __builtin_cpu_supports("vpclmulqdq")),
      // Half of L2 for the tile, the rest for everything else the thread touches.
      l2_budget_(L2Bytes() / 2),
      fold_constants_(gfni::MakeCrcFoldConstants()) {}

std::size_t GfniBackend::TileBytes(std::size_t k, std::size_t r) const {
  return std::max(kMinTileBytes, l2_budget_ / (k + r) / 64 * 64);
}

std::string GfniBackend::KeyOf(const GfMatrix& rows) {
  std::string key(rows.cells().begin(), rows.cells().end());
  key.push_back(static_cast<char>(rows.rows()));  // r x k with equal cells differ by shape
  return key;
}

std::shared_ptr<const std::vector<std::uint64_t>> GfniBackend::BuildOperands(const GfMatrix& rows) {
  auto operands = std::make_shared<std::vector<std::uint64_t>>(rows.cells().size());
  for (std::size_t i = 0; i < rows.cells().size(); ++i)
    (*operands)[i] = gfni::AffineOperand(rows.cells()[i]);
  return operands;
}

std::shared_ptr<const std::vector<std::uint64_t>> GfniBackend::OperandsFor(const GfMatrix& rows) {
  std::string key = KeyOf(rows);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = operands_.find(key);
  if (it != operands_.end()) return it->second;
  auto operands = BuildOperands(rows);
  if (operands_.size() >= kMaxCachedOperands) operands_.clear();
  operands_.emplace(std::move(key), operands);
  return operands;
}

void GfniBackend::CorruptCoefficientForTesting(const GfMatrix& rows, std::size_t cell) {
  GfMatrix corrupt = rows;
  corrupt.at(cell / rows.cols(), cell % rows.cols()) ^= 1;
  std::lock_guard<std::mutex> lock(mu_);
  operands_[KeyOf(rows)] = BuildOperands(corrupt);
}

void GfniBackend::ApplyColumns(const gfni::ApplyArgs& args) const {
  const std::size_t tile = TileBytes(args.k, args.r);
  gfni::ApplyArgs t = args;
  for (std::size_t done = 0; done < args.len; done += t.len) {
    t.offset = args.offset + done;
    t.len = std::min(tile, args.len - done);
    if (isa_ == Isa::kAvx512)
      gfni::ApplyAvx512(t);
    else
      gfni::ApplyAvx2(t);
  }
}

void GfniBackend::ApplyStripeWithCrcs(const gfni::ApplyArgs& args, std::size_t block_bytes,
                                      std::uint32_t* crcs) const {
  const std::size_t k = args.k, r = args.r, tile = TileBytes(k, r);
  auto block = [&](std::size_t b) -> const std::uint8_t* {
    return b < k ? args.inputs[b] : args.outputs[b - k];
  };
  gfni::ApplyArgs t = args;
  if (!fold_crc_) {
    // Each tile checksummed right after it is encoded, while it is in L2.
    std::fill(crcs, crcs + k + r, 0u);
    for (std::size_t done = 0; done < block_bytes; done += t.len) {
      t.offset = done;
      t.len = std::min(tile, block_bytes - done);
      ApplyColumns(t);
      for (std::size_t b = 0; b < k + r; ++b) crcs[b] = Crc32c(block(b) + done, t.len, crcs[b]);
    }
    return;
  }
  // The CRC folded into the pass over every whole 64-byte chunk; the last
  // block_bytes % 64 bytes are encoded with masked stores and chained after.
  const std::size_t whole = block_bytes / 64 * 64;
  std::vector<gfni::CrcFoldState> states(k + r);
  for (std::size_t done = 0; done < whole; done += t.len) {
    t.offset = done;
    t.len = std::min(tile, whole - done);
    gfni::ApplyFoldingCrcAvx512(t, fold_constants_, states.data(), done == 0);
  }
  if (whole < block_bytes) {
    t.offset = whole;
    t.len = block_bytes - whole;
    gfni::ApplyAvx512(t);
  }
  for (std::size_t b = 0; b < k + r; ++b) {
    // The fold state, checksummed as 64 bytes from the 0xFFFFFFFF preset, is
    // the CRC32C of the whole chunks (the state is congruent to them mod P).
    std::uint32_t crc = whole > 0 ? Crc32c(states[b].bytes, 64, 0xFFFFFFFFu) : 0;
    if (whole < block_bytes) crc = Crc32c(block(b) + whole, block_bytes - whole, crc);
    crcs[b] = crc;
  }
}

Status GfniBackend::Apply(const MatrixApply& w) {
  const auto operands = OperandsFor(*w.rows);
  const std::size_t k = w.rows->cols(), r = w.rows->rows();
  ForEachStripePiece(
      pool_, w.stripes, w.block_bytes, [&](std::size_t s, std::size_t offset, std::size_t len) {
        ApplyColumns({operands->data(), k, r, w.inputs + s * k, w.outputs + s * r, offset, len});
      });
  return Status::Ok();
}

Status GfniBackend::ApplyWithCrcs(const MatrixApply& w, std::span<std::uint32_t> block_crcs) {
  const auto operands = OperandsFor(*w.rows);
  const std::size_t k = w.rows->cols(), r = w.rows->rows();
  // A block's CRC runs through its tiles in order, so each stripe stays on one
  // thread; stripes spread over the pool.
  pool_.Run(w.stripes, [&](std::size_t s) {
    ApplyStripeWithCrcs(
        {operands->data(), k, r, w.inputs + s * k, w.outputs + s * r, 0, w.block_bytes},
        w.block_bytes, &block_crcs[s * (k + r)]);
  });
  return Status::Ok();
}

}  // namespace fls
