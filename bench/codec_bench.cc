#include "codec_bench.h"

#include <isa-l/erasure_code.h>

#include <time.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <set>

#include "fls/backend_registry.h"
#include "fls/crc32c.h"
#include "fls/thread_pool.h"

namespace fls::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Timing {
  std::size_t reps = 0;
  double seconds = 0;
};

// Seconds on the wall clock, or of CPU time used by the whole process.
double Now(bool cpu_time) {
  if (!cpu_time) return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// One untimed warm-up call, then `best_of` slices of repetitions, each until
// min_seconds / best_of have passed; *t is the fastest slice (best_of 1: one
// slice of min_seconds), which sheds time lost to other processes on a shared host.
Status Measure(const CodecBenchOptions& o, const std::function<Status()>& fn, Timing* t) {
  FLS_RETURN_IF_ERROR(fn());
  const int slices = std::max(1, o.best_of);
  *t = Timing{};
  for (int slice = 0; slice < slices; ++slice) {
    Timing s;
    const double start = Now(o.cpu_time);
    do {
      FLS_RETURN_IF_ERROR(fn());
      ++s.reps;
      s.seconds = Now(o.cpu_time) - start;
    } while (s.seconds < o.min_seconds / slices);
    if (t->reps == 0 || s.reps / s.seconds > t->reps / t->seconds) *t = s;
  }
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

// Raw ISA-L encode; with crc_row, also its encode-then-CRC rate.
Status RunIsalRaw(const CodecBenchOptions& o, Buffers& b, CodecBenchRow* row,
                  CodecBenchRow* crc_row) {
  std::unique_ptr<Codec> codec;
  FLS_RETURN_IF_ERROR(Codec::Create({b.k, b.m, MatrixKind::kCauchy}, &codec));
  std::vector<unsigned char> tables(32 * b.k * b.m);
  ec_init_tables(b.k, b.m, const_cast<unsigned char*>(codec->parity_rows().cells().data()),
                 tables.data());
  Timing t;
  FLS_RETURN_IF_ERROR(Measure(
      o,
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
  if (crc_row == nullptr) return Status::Ok();

  // The unfused peer: each stripe encoded, then each of its blocks checksummed.
  std::vector<std::uint32_t> crcs(b.stripes * (b.k + b.m));
  Timing ct;
  FLS_RETURN_IF_ERROR(Measure(
      o,
      [&] {
        for (std::size_t s = 0; s < b.stripes; ++s) {
          ec_encode_data(static_cast<int>(b.block), b.k, b.m, tables.data(),
                         const_cast<unsigned char**>(&b.data_ptrs[s * b.k]),
                         &b.parity_ptrs[s * b.m]);
          for (int i = 0; i < b.k + b.m; ++i)
            crcs[s * (b.k + b.m) + i] = Crc32c(b.at(s, i), b.block);
        }
        return Status::Ok();
      },
      &ct));
  *crc_row = *row;
  crc_row->op = "encode_crc";
  crc_row->seconds = ct.seconds;
  crc_row->data_gbps = double(b.k) * b.block * b.stripes * ct.reps / ct.seconds / 1e9;
  return Status::Ok();
}

// fls::Crc32c alone over every data and parity block, as a data rate
// (k x block bytes per second): the ceiling of any encode_crc row that
// checksums with it, even if its encode cost nothing.
Status RunCrcOnly(const CodecBenchOptions& o, Buffers& b, const CodecBenchRow& base,
                  const std::function<void(const CodecBenchRow&)>& on_row) {
  std::vector<std::uint32_t> crcs(b.stripes * (b.k + b.m));
  Timing t;
  FLS_RETURN_IF_ERROR(Measure(
      o,
      [&] {
        for (std::size_t s = 0; s < b.stripes; ++s)
          for (int i = 0; i < b.k + b.m; ++i)
            crcs[s * (b.k + b.m) + i] = Crc32c(b.at(s, i), b.block);
        return Status::Ok();
      },
      &t));
  CodecBenchRow row = base;
  row.backend = "crc32c";
  row.op = "checksum";
  row.threads = 1;
  row.seconds = t.seconds;
  row.data_gbps = double(b.k) * b.block * b.stripes * t.reps / t.seconds / 1e9;
  on_row(row);
  return Status::Ok();
}

// Single-thread memory rates over the batch's own blocks: the ceiling for any
// encode whose working set does not fit in cache.
Status RunMemory(const CodecBenchOptions& o, Buffers& b, const CodecBenchRow& base,
                 const std::function<void(const CodecBenchRow&)>& on_row) {
  const std::size_t n = static_cast<std::size_t>(b.k + b.m);
  const std::size_t words = b.block / 8;
  volatile std::uint64_t sink = 0;
  Timing rt;
  FLS_RETURN_IF_ERROR(Measure(
      o,
      [&] {
        // Eight independent sums, so the loop is bound by loads, not by adds.
        std::uint64_t acc[8] = {};
        for (std::size_t s = 0; s < b.stripes; ++s)
          for (std::size_t i = 0; i < n; ++i) {
            const auto* p = reinterpret_cast<const std::uint64_t*>(b.at(s, static_cast<int>(i)));
            std::size_t w = 0;
            for (; w + 8 <= words; w += 8)
              for (int u = 0; u < 8; ++u) acc[u] += p[w + u];
          }
        for (std::uint64_t a : acc) sink = sink + a;
        return Status::Ok();
      },
      &rt));
  CodecBenchRow row = base;
  row.backend = "memory";
  row.op = "read";
  row.threads = 1;
  row.seconds = rt.seconds;
  row.data_gbps = double(n) * (words / 8 * 64) * b.stripes * rt.reps / rt.seconds / 1e9;
  on_row(row);

  // Writes go to the reconstruct output area, so the shards stay intact.
  Timing wt;
  FLS_RETURN_IF_ERROR(Measure(
      o,
      [&] {
        for (std::size_t s = 0; s < b.stripes; ++s)
          for (int w = 0; w < b.m; ++w) std::memset(b.out_at(s, w), static_cast<int>(s), b.block);
        return Status::Ok();
      },
      &wt));
  row.op = "write";
  row.seconds = wt.seconds;
  row.data_gbps = double(b.m) * b.block * b.stripes * wt.reps / wt.seconds / 1e9;
  on_row(row);
  return Status::Ok();
}

}  // namespace

Status RunCodecBench(const CodecBenchOptions& o,
                     const std::function<void(const CodecBenchRow&)>& on_row) {
  if (o.batch_bytes.size() != 1 && o.batch_bytes.size() != o.block_bytes.size())
    return Status::InvalidArgument("benchmark has " + std::to_string(o.batch_bytes.size()) +
                                   " batch sizes for " + std::to_string(o.block_bytes.size()) +
                                   " block sizes: give one, or one per block size");
  std::vector<std::string> backends = o.backends;
  if (backends.empty())
    for (const BackendInfo& info : DescribeBackends())
      if (info.usable) backends.push_back(info.name);

  for (const CodecShape& shape : o.shapes) {
    FLS_RETURN_IF_ERROR(ValidateCodecShape(shape.k, shape.m));
    for (std::size_t bi = 0; bi < o.block_bytes.size(); ++bi) {
      const std::size_t block = o.block_bytes[bi];
      if (block == 0) return Status::InvalidArgument("block size 0 in benchmark");
      const std::size_t batch = o.batch_bytes.size() == 1 ? o.batch_bytes[0] : o.batch_bytes[bi];
      const std::size_t stripes =
          std::max<std::size_t>(1, batch / (static_cast<std::size_t>(shape.k) * block));
      Buffers b(shape.k, shape.m, block, stripes);
      CodecBenchRow base;
      base.k = shape.k;
      base.m = shape.m;
      base.block_bytes = block;
      base.stripes = stripes;

      if (o.memory) FLS_RETURN_IF_ERROR(RunMemory(o, b, base, on_row));
      CodecBenchRow raw = base, raw_crc = base;
      FLS_RETURN_IF_ERROR(RunIsalRaw(o, b, &raw, o.crc ? &raw_crc : nullptr));
      on_row(raw);
      if (o.crc) {
        on_row(raw_crc);
        FLS_RETURN_IF_ERROR(RunCrcOnly(o, b, base, on_row));
      }

      for (const std::string& name : backends) {
        std::set<int> measured_threads;
        for (int threads : o.threads) {
          std::unique_ptr<Backend> backend;
          FLS_RETURN_IF_ERROR(
              CreateBackend({name, {shape.k, shape.m, MatrixKind::kCauchy}, threads}, &backend));
          if (!measured_threads.insert(backend->threads()).second) continue;
          if (o.cpu_time && backend->threads() != 1)
            return Status::InvalidArgument("CPU-time rates are for 1-thread rows; " + name +
                                           " has " + std::to_string(backend->threads()) +
                                           " threads (use --threads 1)");
          CodecBenchRow row = base;
          row.backend = std::string(backend->name());
          row.threads = backend->threads();

          EncodeBatch enc{stripes, block, b.data_ptrs, b.parity_ptrs, {}};
          Timing t;
          FLS_RETURN_IF_ERROR(Measure(
              o, [&] { return backend->Encode(enc); }, &t));
          if (b.GatherParity() != b.expected_parity)
            return Status::Internal("backend " + row.backend + " encode differs from ISA-L");
          row.op = "encode";
          row.seconds = t.seconds;
          row.data_gbps = double(shape.k) * block * stripes * t.reps / t.seconds / 1e9;
          on_row(row);

          if (o.crc) {
            const std::size_t n = static_cast<std::size_t>(shape.k + shape.m);
            std::vector<std::uint32_t> crcs(stripes * n);
            EncodeBatch enc_crc{stripes, block, b.data_ptrs, b.parity_ptrs, crcs};
            Timing ct;
            FLS_RETURN_IF_ERROR(Measure(
                o, [&] { return backend->Encode(enc_crc); }, &ct));
            if (b.GatherParity() != b.expected_parity)
              return Status::Internal("backend " + row.backend +
                                      " encode with CRCs differs from ISA-L");
            for (std::size_t s = 0; s < stripes; ++s)
              for (std::size_t i = 0; i < n; ++i)
                if (crcs[s * n + i] != Crc32c(b.at(s, static_cast<int>(i)), block))
                  return Status::Internal("backend " + row.backend + " stripe " +
                                          std::to_string(s) + " block " + std::to_string(i) +
                                          ": CRC differs from Crc32c");
            CodecBenchRow c = row;
            c.op = "encode_crc";
            c.seconds = ct.seconds;
            c.data_gbps = double(shape.k) * block * stripes * ct.reps / ct.seconds / 1e9;
            on_row(c);
          }

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
                o, [&] { return backend->Reconstruct(rec); }, &rt));
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
