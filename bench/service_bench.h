// The service benchmark behind `fls bench service`: a real service (broker,
// in-process workers, journal, targets in a scratch directory) on loopback,
// driven through the wire protocol, in four modes measured in the same run:
//   batched       every file in one archive job (small files packed)
//   per_file      one archive job per file (the first per_file_limit files)
//   single_small  latency of single small-file jobs, one after another
//   one_large     one file of the same total size as the batched files
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
  bool keep = false;  // keep the scratch directory
};

struct ServiceBenchRow {
  std::string mode;
  int files = 0;
  std::uint64_t bytes = 0;
  double seconds = 0, files_per_s = 0, gbps = 0, p50_ms = 0, p99_ms = 0;
};

Status RunServiceBench(const ServiceBenchOptions& options,
                       const std::function<void(const ServiceBenchRow&)>& emit);

}  // namespace fls::bench
