// The service benchmark behind `fls bench service`: a real service (broker,
// in-process workers, journal, targets in a scratch directory) on loopback,
// driven through the wire protocol, in four modes measured in the same run:
//   batched       every file in one archive job (small files packed)
//   per_file      one archive job per file (the first per_file_limit files)
//   single_small  latency of single small-file jobs, one after another
//   one_large     one file of the same total size as the batched files
// With compare_coalescing, only the batched job is measured instead, twice
// per repetition on fresh stores: with backend-call coalescing off
// (batch.max_latency_ms 0: `uncoalesced`) and on (`coalesced`), alternating.
// Rates: files/s and GB/s of source bytes (10^9 B/s); latencies from SUBMIT
// to the job's "done" event.
// Thread-safety: not reentrant.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "fls/status.h"

namespace fls::bench {

struct ServiceBenchOptions {
  int files = 10000;
  std::uint64_t min_size = 4 << 10;
  std::uint64_t max_size = 1 << 20;
  int per_file_limit = 500;  // per_file mode archives at most this many files
  int single_jobs = 50;      // single_small mode: this many jobs
  int workers = 2;
  std::string dir;  // scratch directory (default: a new one under /tmp)
  std::string backend = "auto";
  bool keep = false;               // keep the scratch directory
  std::uint64_t stripe_bytes = 0;  // store.stripe; 0: the config default (10 MiB)
  int max_latency_ms = -1;         // batch.max_latency_ms; -1: the config default
  int files_in_flight = 0;         // batch.files_in_flight; 0: the config default
  bool compare_coalescing = false;
  int repeats = 2;  // compare_coalescing: rounds of (uncoalesced, coalesced)
};

struct ServiceBenchRow {
  std::string mode;
  int files = 0;
  std::uint64_t bytes = 0;
  double seconds = 0, files_per_s = 0, gbps = 0, p50_ms = 0, p99_ms = 0;
  // Backend calls of the service since it started (STATS "batching") and the
  // mean files (pipelines) per call; filled for batched rows.
  std::uint64_t backend_calls = 0;
  double files_per_call = 0;
};

Status RunServiceBench(const ServiceBenchOptions& options,
                       const std::function<void(const ServiceBenchRow&)>& emit);

}  // namespace fls::bench
