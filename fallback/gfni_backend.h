// GfniBackend (`gfni`): Reed-Solomon arithmetic with the GF2P8AFFINEQB
// instruction on x86-64 CPUs with GFNI, in AVX-512 (64 bytes per instruction)
// or AVX2 (32 bytes) form, chosen at run time from the CPU's features.
//
// Each coefficient matrix (the encode rows, each erasure pattern's decode rows)
// is expanded once into affine operands and cached. Work is split over stripes
// and column pieces on a thread pool; each piece is processed in column tiles
// small enough that its k inputs and r outputs stay in the core's L2 cache, and
// up to 6 outputs are accumulated per pass so that each input byte is loaded
// once per pass. Encode with block CRCs folds CRC32C into the same pass
// (AVX-512 + VPCLMULQDQ) or runs it on each tile right after it is encoded
// (AVX2), on the same thread, so no block is read from memory twice.
//
// Thread-safety: safe to call concurrently; the operand cache is locked.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fls/backend.h"
#include "fls/thread_pool.h"
#include "gfni_kernels.h"

namespace fls {

class GfniBackend final : public Backend {
 public:
  enum class Isa { kAvx512, kAvx2 };

  static std::string_view IsaName(Isa isa);  // "avx512" | "avx2"
  // Parses "avx512" or "avx2"; InvalidArgument otherwise.
  static Status ParseIsa(std::string_view name, Isa* isa);
  // True when this CPU (and OS) can run `isa`; otherwise false with the reason,
  // e.g. "CPU lacks GFNI".
  static bool Supported(Isa isa, std::string* why);
  // The widest ISA this CPU runs, and a description ("AVX-512 + GFNI"); false
  // with the reason when none.
  static bool Probe(Isa* best, std::string* detail);

  // Unavailable (with the reason) when this CPU cannot run `isa`.
  static Status Create(std::shared_ptr<const Codec> codec, int threads, Isa isa,
                       std::unique_ptr<GfniBackend>* backend);

  std::string_view name() const override { return "gfni"; }
  int threads() const override { return pool_.threads(); }
  Isa isa() const { return isa_; }
  std::string variant() const override { return std::string(IsaName(isa_)); }
  // Column tile for k inputs and r outputs: a multiple of 64 bytes.
  std::size_t TileBytes(std::size_t k, std::size_t r) const;

  // Tests only: caches the operands of `rows` as if coefficient `cell`
  // (row-major) had its lowest bit flipped, so that a test can see the
  // known-answer self-test refuse the backend.
  void CorruptCoefficientForTesting(const GfMatrix& rows, std::size_t cell);

 protected:
  Status Apply(const MatrixApply& work) override;
  Status ApplyWithCrcs(const MatrixApply& work, std::span<std::uint32_t> block_crcs) override;

 private:
  GfniBackend(std::shared_ptr<const Codec> codec, int threads, Isa isa);
  static std::string KeyOf(const GfMatrix& rows);
  static std::shared_ptr<const std::vector<std::uint64_t>> BuildOperands(const GfMatrix& rows);
  std::shared_ptr<const std::vector<std::uint64_t>> OperandsFor(const GfMatrix& rows);
  // Columns [offset, offset + len) of one stripe, tile by tile.
  void ApplyColumns(const gfni::ApplyArgs& args) const;
  // One stripe, all columns, with the CRC32C of its k + r blocks.
  void ApplyStripeWithCrcs(const gfni::ApplyArgs& args, std::size_t block_bytes,
                           std::uint32_t* crcs) const;

  ThreadPool pool_;
  const Isa isa_;
  const bool fold_crc_;  // AVX-512 with VPCLMULQDQ: CRC folded into the pass
  const std::size_t l2_budget_;
  const gfni::CrcFoldConstants fold_constants_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const std::vector<std::uint64_t>>> operands_;
};

}  // namespace fls
