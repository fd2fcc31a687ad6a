// `fls bench space`: what the archive costs on disk, measured the way a
// user would see it with `du`. A seeded mix of files whose sizes are spread
// evenly in log scale is archived once with `fls archive` (14 local
// targets, 10+4) and once through the service (`fls serve` with its own 14
// targets, one `fls submit archive DIR --wait` job); then each of a list of
// single files is archived alone into a store of its own. Each row is the
// bytes the archive added on the targets (every file and directory under
// them: chunks, manifests, headers, packs) over the source bytes, beside the issue-14
// floor; a sample of the archived files is restored and compared byte for
// byte, since the space of a store that does not restore means nothing.
// Each store is formatted with `fls init` before its baseline is measured:
// the targets' identity files are the store's, paid once, not a cost of the
// files archived into it; they are reported apart (SpaceRow::identity).
// Everything runs through the `fls` binary, so the bench measures the same
// thing whatever the on-disk layout.
// Thread-safety: not reentrant (one run at a time per work directory).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fls/status.h"
#include "store_files.h"

namespace fls::bench {

struct SpaceBenchOptions {
  int files = 300;                         // at least this many in the mix
  std::uint64_t min_size = 1 << 10;        // smallest file of the mix
  std::uint64_t max_size = 64ull << 20;    // largest file of the mix
  std::uint64_t total_min = 500ull << 20;  // more files until the mix holds this much
  std::uint64_t seed = 1;
  std::vector<std::uint64_t> singles = {1 << 20, (1 << 20) + 1, 3 << 20, (10 << 20) + 1,
                                        (100ull << 20) + 1};
  int restore_sample = 8;  // mix files restored and compared per way
  bool cli = true, service = true;
  std::string dir;  // work directory is created under it (default ".")
  std::string fls;  // the binary to measure (default: this executable)
  int timeout_s = 3600;
  bool keep = false;
};

struct SpaceRow {
  std::string kind;  // "mix" or "single"
  std::string way;   // "cli" or "service"
  int files = 0;
  std::uint64_t source_bytes = 0;
  SpaceUsage usage;                           // what the archive added
  std::uint64_t empty_targets_allocated = 0;  // the empty target dirs (not counted)
  SpaceUsage identity;                   // what `fls init` added to them (not counted: the store's)
  double ratio = 0, apparent_ratio = 0;  // allocated / source, apparent / source
  double floor = 0, ideal = 0;
  bool pass = false;
  double archive_seconds = 0;
  int restore_checked = 0, restore_equal = 0;
  double load_average = -1;  // 1-minute load when the row was measured
};

// Calls `emit` for each row as it is measured. Fails on any error, and when
// a restored file differs (after emitting that row).
Status RunSpaceBench(const SpaceBenchOptions& options,
                     const std::function<void(const SpaceRow&)>& emit);

}  // namespace fls::bench
