#include "bench/codec_bench.h"

#include <isa-l/erasure_code.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <set>

#include "fls/backend_registry.h"
#include "host/thread_pool.h"

namespace fls::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Timing {
  std::size_t reps = 0;
  double seconds = 0;
};

// One untimed warm-up call, then repetitions until `min_seconds` have passed.
Status Measure(double min_seconds, const std::function<Status()>& fn, Timing* t) {
  FLS_RETURN_IF_ERROR(fn());
  const auto start = Clock::now();
  do {
    FLS_RETURN_IF_ERROR(fn());
    ++t->reps;
    t->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  } while (t->seconds < min_seconds);
  return Status::Ok();
}

void FillRandom(std::vector<std::uint8_t>& buf, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::size_t i = 0;
  for (; i + 8 <= buf.size(); i += 8) {
    const std::uint64_t v = rng();
    std::memcpy(&buf[i], &v, 8);
  }
  for (; i < buf.size(); ++i) buf[i] = static_cast<std::uint8_t>(rng());
}

// Blocks of one shape and size, shared by every backend in the run. A stripe's
// k + m blocks lie side by side, as a pipeline's stripe buffer holds them, at
// a pitch of the block plus 4 KiB + 64 B: blocks exactly 2^n bytes apart would
// alias in the L1 cache (same address bits below 4 KiB), which slows ISA-L and
// every other backend alike by up to a fifth and measures the layout, not the code.
struct Buffers {
  std::size_t stripes, block, pitch;
  int k, m;
  std::vector<std::uint8_t> shards, expected_parity, out;
  std::vector<const std::uint8_t*> data_ptrs;
  std::vector<std::uint8_t*> parity_ptrs;

  Buffers(int k_, int m_, std::size_t block_, std::size_t stripes_)
      : stripes(stripes_), block(block_), pitch((block_ + 63) / 64 * 64 + 4160), k(k_), m(m_) {
    const std::size_t n = static_cast<std::size_t>(k + m);
    shards.resize(stripes * n * pitch);
    out.resize(stripes * m * pitch);
    FillRandom(shards, 0x5eed ^ (k * 131 + m) ^ block);
    for (std::size_t s = 0; s < stripes; ++s) {
      for (int j = 0; j < k; ++j) data_ptrs.push_back(at(s, j));
      for (int p = 0; p < m; ++p) parity_ptrs.push_back(at(s, k + p));
    }
  }
  std::uint8_t* at(std::size_t s, int shard) { return &shards[(s * (k + m) + shard) * pitch]; }
  std::uint8_t* out_at(std::size_t s, int w) { return &out[(s * m + w) * pitch]; }
  // The parity blocks gathered, to compare one backend's encode with ISA-L's.
  std::vector<std::uint8_t> GatherParity() {
    std::vector<std::uint8_t> g;
    for (std::uint8_t* p : parity_ptrs) g.insert(g.end(), p, p + block);
    return g;
  }
};

Status RunIsalRaw(const CodecBenchOptions& o, Buffers& b, CodecBenchRow* row) {
  std::unique_ptr<Codec> codec;
  FLS_RETURN_IF_ERROR(Codec::Create({b.k, b.m, MatrixKind::kCauchy}, &codec));
  std::vector<unsigned char> tables(32 * b.k * b.m);
  ec_init_tables(b.k, b.m, const_cast<unsigned char*>(codec->parity_rows().cells().data()),
                 tables.data());
  Timing t;
  FLS_RETURN_IF_ERROR(Measure(
      o.min_seconds,
      [&] {
        for (std::size_t s = 0; s < b.stripes; ++s)
          ec_encode_data(static_cast<int>(b.block), b.k, b.m, tables.data(),
                         const_cast<unsigned char**>(&b.data_ptrs[s * b.k]),
                         &b.parity_ptrs[s * b.m]);
        return Status::Ok();
      },
      &t));
  b.expected_parity = b.GatherParity();
  row->backend = "isal-raw";
  row->op = "encode";
  row->threads = 1;
  row->seconds = t.seconds;
  row->data_gbps = double(b.k) * b.block * b.stripes * t.reps / t.seconds / 1e9;
  return Status::Ok();
}

}  // namespace

Status RunCodecBench(const CodecBenchOptions& o,
                     const std::function<void(const CodecBenchRow&)>& on_row) {
  std::vector<std::string> backends = o.backends;
  if (backends.empty())
    for (const BackendInfo& info : DescribeBackends())
      if (info.usable) backends.push_back(info.name);

  for (const CodecShape& shape : o.shapes) {
    FLS_RETURN_IF_ERROR(ValidateCodecShape(shape.k, shape.m));
    for (std::size_t block : o.block_bytes) {
      if (block == 0) return Status::InvalidArgument("block size 0 in benchmark");
      const std::size_t stripes =
          std::max<std::size_t>(1, o.batch_bytes / (static_cast<std::size_t>(shape.k) * block));
      Buffers b(shape.k, shape.m, block, stripes);
      CodecBenchRow base;
      base.k = shape.k;
      base.m = shape.m;
      base.block_bytes = block;
      base.stripes = stripes;

      CodecBenchRow raw = base;
      FLS_RETURN_IF_ERROR(RunIsalRaw(o, b, &raw));
      on_row(raw);

      for (const std::string& name : backends) {
        std::set<int> measured_threads;
        for (int threads : o.threads) {
          std::unique_ptr<Backend> backend;
          FLS_RETURN_IF_ERROR(
              CreateBackend({name, {shape.k, shape.m, MatrixKind::kCauchy}, threads}, &backend));
          if (!measured_threads.insert(backend->threads()).second) continue;
          CodecBenchRow row = base;
          row.backend = std::string(backend->name());
          row.threads = backend->threads();

          EncodeBatch enc{stripes, block, b.data_ptrs, b.parity_ptrs};
          Timing t;
          FLS_RETURN_IF_ERROR(Measure(
              o.min_seconds, [&] { return backend->Encode(enc); }, &t));
          if (b.GatherParity() != b.expected_parity)
            return Status::Internal("backend " + row.backend + " encode differs from ISA-L");
          row.op = "encode";
          row.seconds = t.seconds;
          row.data_gbps = double(shape.k) * block * stripes * t.reps / t.seconds / 1e9;
          on_row(row);

          for (int lost : o.lost) {
            if (lost < 1 || lost > shape.m || lost > shape.k) continue;
            // The costliest case: data shards lost, so every output needs decoding.
            const std::size_t n = static_cast<std::size_t>(shape.k + shape.m);
            std::vector<const std::uint8_t*> shards(stripes * n);
            std::vector<std::uint8_t*> outs(stripes * lost);
            std::vector<int> wanted(lost);
            for (int w = 0; w < lost; ++w) wanted[w] = w;
            for (std::size_t s = 0; s < stripes; ++s) {
              for (std::size_t i = 0; i < n; ++i)
                shards[s * n + i] = static_cast<int>(i) < lost ? nullptr : b.at(s, i);
              for (int w = 0; w < lost; ++w) outs[s * lost + w] = b.out_at(s, w);
            }
            ReconstructBatch rec{stripes, block, shards, wanted, outs};
            Timing rt;
            FLS_RETURN_IF_ERROR(Measure(
                o.min_seconds, [&] { return backend->Reconstruct(rec); }, &rt));
            for (std::size_t s = 0; s < stripes; ++s)
              for (int w = 0; w < lost; ++w)
                if (std::memcmp(outs[s * lost + w], b.data_ptrs[s * shape.k + w], block) != 0)
                  return Status::Internal("backend " + row.backend +
                                          " reconstruct returned wrong bytes");
            CodecBenchRow r = row;
            r.op = "reconstruct";
            r.lost = lost;
            r.seconds = rt.seconds;
            r.data_gbps = double(shape.k) * block * stripes * rt.reps / rt.seconds / 1e9;
            on_row(r);
          }
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace fls::bench
