// Files for the store benches: seeded incompressible source files, what a
// set of target directories holds on disk (as `du` counts it: allocated
// blocks of every file and directory, by kind), and byte-for-byte compare.
// Thread-safety: pure functions over the filesystem.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fls/status.h"

namespace fls::bench {

// Writes `size` bytes of xoshiro-style pseudo-random data from `seed`
// (incompressible, reproducible), creating parent directories.
Status WriteSeededFile(const std::string& path, std::uint64_t size, std::uint64_t seed);

struct KindUsage {
  std::uint64_t entries = 0;
  std::uint64_t allocated = 0;  // st_blocks * 512
  std::uint64_t apparent = 0;   // st_size
};

// Everything under some directories. Kinds come from the name, so that
// the figure stays comparable when the layout changes: "chunk" (*.chunk),
// "manifest" (*.manifest), "member" (*.member: packed files' records),
// "dir" (the roots and every directory below
// them), "other" (anything else: temporaries, locks, indexes...). Totals
// count every kind.
struct SpaceUsage {
  std::map<std::string, KindUsage> kinds;
  std::uint64_t allocated = 0, apparent = 0, files = 0;
  nlohmann::json ToJson() const;
  // What was added since `before` (the same roots, measured earlier): what
  // an archive cost, not counting the empty target directories that make
  // the store before anything is archived. Entries that shrank count 0.
  SpaceUsage Since(const SpaceUsage& before) const;
};

// Walks each root without following symlinks (a symlink counts as itself).
Status MeasureSpace(const std::vector<std::string>& roots, SpaceUsage* usage);

// OK when both files hold the same bytes; otherwise an error saying where
// they first differ (or which is shorter).
Status CompareFiles(const std::string& expected, const std::string& actual);

// "1M", "1M+1", "100M+1": ParseByteSize of the part before '+', plus the
// number after it.
Status ParseSizeSum(const std::string& text, std::uint64_t* bytes);

}  // namespace fls::bench
