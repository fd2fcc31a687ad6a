// SpaceReport: where the bytes on a store's targets go (`fls df`, the
// service's STATS). Every fls file on every target is classified exactly
// once, so that per target the categories sum to the bytes its fls files
// take:
//
//   data       bytes of live chunk files that hold live source bytes (file
//              bytes of objects, and of live pack members)
//   padding    zero bytes of data blocks past a file's end, and the bytes of
//              a pack that no index entry names (members that could not be
//              read kept their place as zeros)
//   parity     parity blocks of live objects (dead members' parity included:
//              parity covers whole stripes)
//   headers    chunk headers, block CRCs, and packs' indexes (a pack's index
//              is data-chunk bytes that hold no source bytes)
//   dead       data bytes of pack members whose name no longer resolves to
//              that pack at that offset (LocateName decides): their source
//              bytes, counted on the target that holds each byte
//   manifests  manifests (every generation and kind), member records,
//              identity and control files
//   damaged    chunk files of live objects whose size differs from what
//              their manifest says (verify and repair deal with them)
//   leftovers  temporaries, orphan and leftover chunk files (unreferenced.h),
//              anything else fls-named
//
// Files that are not fls's ("foreign") are counted apart and never in the
// totals. Each total has its logical bytes (st_size) and, for whole files,
// the allocated bytes (st_blocks * 512): the overhead ratio is allocated
// bytes of fls files over live source bytes.
//
// The report is a snapshot of a store that may be written meanwhile: an
// archive running during the walk shows its chunks as orphans until its
// manifest commits.
//
// Memory: per object about 70 bytes (its geometry) plus what ChunkReferences
// keeps (unreferenced.h: 40 + 6 (k + m)), plus 24 k bytes per pack and the
// leftovers found; the catalogue is walked as ls and verify walk it.
// Thread-safety: ReportSpace may run concurrently with readers and writers
// of the store; a SpaceReport is a plain value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fls/status.h"
#include "fls/store.h"

namespace fls {

struct SpaceBytes {
  std::uint64_t data = 0, padding = 0, parity = 0, headers = 0, dead = 0;
  std::uint64_t manifests = 0, damaged = 0;
  // leftovers, by kind
  std::uint64_t temporaries = 0, orphan_chunks = 0, leftover_chunks = 0, other = 0;
  // Allocated bytes (st_blocks * 512) of whole files: live chunk files,
  // manifest-kind files, damaged and leftover files.
  std::uint64_t chunks_allocated = 0, manifests_allocated = 0, damaged_allocated = 0,
                leftovers_allocated = 0;
  std::uint64_t files = 0;          // fls files counted
  std::uint64_t foreign_files = 0;  // not fls's: not in any total
  std::uint64_t foreign_bytes = 0;  // their logical bytes

  std::uint64_t leftovers() const { return temporaries + orphan_chunks + leftover_chunks + other; }
  // Logical bytes of every fls file: the sum of the categories.
  std::uint64_t total() const {
    return data + padding + parity + headers + dead + manifests + damaged + leftovers();
  }
  std::uint64_t allocated() const {
    return chunks_allocated + manifests_allocated + damaged_allocated + leftovers_allocated;
  }
  void Add(const SpaceBytes& o);
};

struct TargetSpace {
  std::string path;
  std::string domain;
  bool readable = false;  // the directory could be listed
  SpaceBytes bytes;
  std::uint64_t free = 0;  // statvfs f_bavail * f_frsize
  bool free_known = false;
  int shares_fs_with = -1;  // an earlier target on the same file system, or -1
};

struct SpaceReport {
  std::vector<TargetSpace> targets;
  SpaceBytes total;           // sum over targets
  std::uint64_t free = 0;     // summed once per file system
  std::uint64_t objects = 0;  // live objects, packs included
  std::uint64_t packs = 0;
  std::uint64_t live_members = 0, dead_members = 0;
  // File bytes of live objects that are not packs, plus live members' lengths.
  std::uint64_t live_source_bytes = 0;
  // total.allocated() / live_source_bytes; 0 when there are no live bytes.
  double overhead_ratio = 0;
  // What could not be counted exactly: unreadable targets, names or pack
  // indexes, members whose liveness could not be decided (counted live).
  std::vector<std::string> warnings;
};

// Walks the catalogue and lists every target once (plus the listing that
// finds unreferenced chunk files). Never fails on what it finds: problems
// become warnings. InvalidArgument only for a store without targets.
Status ReportSpace(const Store& store, SpaceReport* report);

// The report as the JSON document `fls df --json` prints (docs/CLI.md), one
// line; without `targets` only the totals (the service's STATS "space").
std::string SpaceReportJson(const SpaceReport& report, bool with_targets);

}  // namespace fls
