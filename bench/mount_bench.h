// `fls bench mount`: a sequential read of one large file through `fls mount`
// against `fls restore` of the same file, in the same run, healthy and with
// 4 data chunk files deleted (every stripe then rebuilt from parity). Both
// sides read the same chunk files from the same page-cache state and both
// compute the file's SHA-256 (restore checks it; the bench hashes what it
// reads through the mount and compares), so neither is given work the
// other skips; restore also writes and fsyncs its output file, which is
// what a user of it pays. Everything runs through the `fls` binary; the
// mount is `fls mount --foreground` in a child, read with 1 MiB read(2)s.
// Floor (issue 17): mount rate >= 0.5 x restore rate.
// Thread-safety: not reentrant (one run at a time per work directory).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "fls/status.h"

namespace fls::bench {

struct MountBenchOptions {
  std::uint64_t size = 1ull << 30;  // bytes of the file
  std::string dir;                  // work directory is created under it (default ".")
  std::string fls;                  // the binary to measure (default: this executable)
  std::string cache = "256M";       // fls mount --cache
  int timeout_s = 3600;
  bool keep = false;
};

struct MountRow {
  std::string state;  // "healthy" or "4 chunks lost"
  std::uint64_t bytes = 0;
  double restore_seconds = 0, mount_seconds = 0;
  double restore_gbps = 0, mount_gbps = 0;  // file bytes / s / 1e9
  double ratio = 0;                         // mount / restore
  double floor = 0.5;
  bool pass = false;
  bool mount_equal = false;  // the SHA-256 read through the mount is the file's
  double load_average = -1;
};

// Runs both states; `on_row` gets each row as it is measured. Fails when a
// command fails, the mount cannot be made, or the bytes differ.
Status RunMountBench(const MountBenchOptions& o,
                     const std::function<void(const MountRow&)>& on_row);

// The CPU's model name (/proc/cpuinfo), or "unknown".
std::string CpuModel();

}  // namespace fls::bench
