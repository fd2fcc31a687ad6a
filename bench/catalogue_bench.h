// `fls bench catalogue`: whether finding an object by name costs more as
// the store grows. For each store size (objects of 1-4 KiB archived with
// `fls archive`, many files per call) it times whole commands, spawn to
// exit, as a user runs them: `fls info NAME`, `fls restore NAME -o OUT` of
// one small object (compared with its source) and `fls ls --json`, each
// `runs` times interleaved, reporting the median and the best; and the
// re-archive test: the last `rearchive` files, archived once (first) and
// then again (all already archived), with `fls archive` and through the
// service (`fls serve`, `fls submit archive FILE... --wait`, default batch
// settings). Summary rows put the largest store against the smallest, with
// the issue-14 floors (large/small <= 1.5, re-archive/first <= 0.2).
// Memory stays bounded whatever the store size: nothing is kept per object
// but the source file names, and `ls` output is counted as it is read.
// Progress goes to stderr.
// Thread-safety: not reentrant (one run at a time per work directory).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fls/status.h"

namespace fls::bench {

struct CatalogueBenchOptions {
  std::vector<int> objects = {200, 20000};  // store sizes, measured in this order (sorted)
  int runs = 5;                             // timed runs of each command per store size
  int batch = 500;                          // files per `fls archive` call while building
  int rearchive = 100;                      // files of the re-archive test (the last ones)
  std::uint64_t min_size = 1 << 10, max_size = 4 << 10;
  std::uint64_t seed = 1;
  bool service = true;  // also the re-archive test through the service
  std::string dir;      // the work directory is created under it (default ".")
  std::string fls;      // the binary to measure (default: this executable)
  int timeout_s = 3600;
  bool keep = false;
};

// Each row is one JSON object: "op" names it (build, info, restore, ls,
// archive-first, re-archive, and "summary" rows), "objects" the store size.
Status RunCatalogueBench(const CatalogueBenchOptions& options,
                         const std::function<void(const nlohmann::json&)>& emit);

}  // namespace fls::bench
