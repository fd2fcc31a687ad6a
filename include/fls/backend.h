// Backend: the engine's one interface for Reed-Solomon arithmetic over batches
// of stripes. Implementations: `reference` (plain C++, the oracle), `isal`
// (Intel ISA-L on a thread pool), `cuda` (the GPU) and `cuda-cpu` (the CUDA
// kernel source executed on the CPU, for machines without a GPU).
//
// Object -> stripe -> shard mapping (k = 4, m = 2, block B bytes):
//
//   file bytes  |  stripe 0: 4B bytes          |  stripe 1: 4B bytes  | ...
//               | D0  | D1  | D2  | D3  |        (last stripe zero-padded)
//   shard       |  0  |  1  |  2  |  3  |  4 = P0  |  5 = P1
//
// A batch is many stripes of the same block size. Blocks are addressed by
// pointer arrays, stripe-major, in the manner of ISA-L's ec_encode_data:
//   EncodeBatch:      data[s*k + j]   -> parity[s*m + p]
//   ReconstructBatch: shards[s*(k+m) + i] (nullptr when lost) -> outputs[s*W + w]
//                     for the W shards listed in `wanted`.
// Worked example, 10 + 4, stripe s lost shards 2 and 11: wanted = {2, 11};
// the backend reads shards 0,1,3..10 (the first k present) and writes
// outputs[s*2 + 0] = shard 2 and outputs[s*2 + 1] = shard 11.
//
// Buffers: the caller owns every buffer. Any alignment and any block size
// >= 1 is accepted; inputs are only read; outputs must not overlap inputs.
// A wanted shard may also be present (it is then recomputed, as deep verify
// does). Different stripes of one reconstruct batch may have lost different
// shards; each stripe must have at least k present.
//
// Errors (Status): InvalidArgument for mismatched counts, zero block size or
// null buffers, naming the count or stripe at fault; Unrecoverable naming the
// stripe when fewer than k shards are present; Unavailable/Internal from the
// device. On error the outputs' contents are unspecified, never reported good.
//
// Thread-safety: every method may be called concurrently from several threads.
// The async forms return at once; the caller keeps the batch's pointer arrays
// and buffers alive and untouched until the future is ready.
#pragma once

#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "fls/codec.h"
#include "fls/status.h"

namespace fls {

struct EncodeBatch {
  std::size_t stripes = 0;
  std::size_t block_bytes = 0;
  std::span<const std::uint8_t* const> data;  // stripes * k
  std::span<std::uint8_t* const> parity;      // stripes * m
  // Optional: when not empty (stripes * (k + m) entries), Encode also stores
  // the CRC32C (fls/crc32c.h) of every data and parity block, stripe-major:
  // block_crcs[s*(k+m) + i] for shard i of stripe s. Backends may compute it
  // while the block is still in cache.
  std::span<std::uint32_t> block_crcs;
};

struct ReconstructBatch {
  std::size_t stripes = 0;
  std::size_t block_bytes = 0;
  std::span<const std::uint8_t* const> shards;  // stripes * (k + m), nullptr = lost
  std::span<const int> wanted;                  // shard indices to produce, for every stripe
  std::span<std::uint8_t* const> outputs;       // stripes * wanted.size()
};

// What to build: `backend=isal k=10 m=4 matrix=cauchy threads=2` in profile form.
struct BackendProfile {
  std::string backend = "auto";  // auto | reference | isal | gfni | cuda | cuda-cpu
  CodecParams codec;
  int threads = 0;  // CPU worker threads; 0 = one per core
};

// The arithmetic every backend performs: outputs = rows x inputs, byte by byte,
// for each stripe. `rows` is r x k; inputs[s*k + j], outputs[s*r + i].
struct MatrixApply {
  const GfMatrix* rows = nullptr;
  std::size_t stripes = 0;
  std::size_t block_bytes = 0;
  const std::uint8_t* const* inputs = nullptr;
  std::uint8_t* const* outputs = nullptr;
};

class Backend {
 public:
  explicit Backend(std::shared_ptr<const Codec> codec) : codec_(std::move(codec)) {}
  virtual ~Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  virtual std::string_view name() const = 0;
  // Worker threads this backend computes with (1 for single-threaded ones).
  virtual int threads() const { return 1; }

  const Codec& codec() const { return *codec_; }
  std::shared_ptr<const Codec> shared_codec() const { return codec_; }

  // Blocking forms: OK once every output block holds its bytes.
  Status Encode(const EncodeBatch& batch);
  Status Reconstruct(const ReconstructBatch& batch);

  // Asynchronous forms: the same contract, completed through the future.
  virtual std::future<Status> EncodeAsync(const EncodeBatch& batch);
  virtual std::future<Status> ReconstructAsync(const ReconstructBatch& batch);

  // Which variant of the backend's kernels runs ("avx512" or "avx2" for gfni;
  // empty for backends with one): the self-test keeps one result per variant.
  virtual std::string variant() const { return {}; }

  // The single primitive every backend implements: outputs = rows x inputs
  // for every stripe of `work`. Encode is one Apply with the parity rows,
  // reconstruct one per erasure pattern with that plan's rows. Public for the
  // engine's own wrappers (the batching decorator merges callers' work into
  // one Apply of the backend it wraps; the known-answer self-test drives it
  // with matrices of other shapes); others call Encode/Reconstruct, which
  // check the batch first. `work` must be well formed: every pointer valid
  // for block_bytes, rows.cols() inputs and rows.rows() outputs per stripe.
  virtual Status Apply(const MatrixApply& work) = 0;

  // Apply with CRC32C of every block (batch.block_crcs non-empty). The default
  // runs Apply and then checksums each block; backends that can fuse the CRC
  // into their pass over the data override it.
  virtual Status ApplyWithCrcs(const MatrixApply& work, std::span<std::uint32_t> block_crcs);

 private:
  std::shared_ptr<const Codec> codec_;
};

// Batch checks shared by every backend (exposed for tests and pipelines).
Status ValidateEncodeBatch(const Codec& codec, const EncodeBatch& batch);
Status ValidateReconstructBatch(const Codec& codec, const ReconstructBatch& batch);

}  // namespace fls
