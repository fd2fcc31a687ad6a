// Rebalance: move chunk files between the targets of a store until every
// target holds about the same number of chunk bytes (typically after new,
// empty targets were added).
//
// Usage of a target = the bytes of the chunk files that the newest manifests
// place on it (manifest files and foreign files are not counted; targets on a
// shared filesystem are told apart this way). Only targets whose directory
// exists take part. The store is balanced when every such target is within
// `tolerance` of the mean: |usage - mean| <= tolerance * mean. The spread is
// max |usage - mean| / mean.
//
// The plan (PlanRebalance, pure) moves chunks from the most used targets to
// the least used, one chunk at a time, each move shrinking the gap between
// the two. A move is allowed only when the destination holds no other chunk
// of the object and the object's fault tolerance (ToleranceOf: whole targets
// and whole failure domains) does not drop. Moves come in rounds; in one
// round at most m chunks of an object move, committed as one generation, so
// a generation differs from the one before in at most m chunk places (a
// reader holding the older one can read without those chunks). Rounds run
// one after another until the spread is within tolerance or no move helps.
//
// Execution (RebalanceStore), per object, in this order:
//   1. each moved chunk is copied to a temporary on its destination; the
//      CRC32C and size of the bytes written must equal the manifest's (a
//      damaged source is not moved: the object is skipped and reported for
//      `fls repair`); fsync, rename, fsync of the directory;
//   2. a new manifest generation naming the new locations is committed
//      (internal::CommitNextGeneration): the commit point;
//   3. only then the old chunk files and the older manifest copies go.
// A crash before 2 leaves the old generation, complete, plus copies nobody
// references; after 2, the new one plus leftovers. Each run first removes
// what earlier runs left: stale temporaries, chunk files of known objects
// that their manifest places elsewhere (after checking the placed copy's
// CRC32C), older manifest copies, and it re-commits a generation whose
// copies were only partly written.
//
// Thread-safety: a run moves `parallel` objects at once, each on its own
// files; on_commit is called under a lock. Readers (restore, verify) may run
// concurrently: a restore that read generation g finds a moved chunk on its
// new target (ObjectReader looks for it there) or, at worst, reads degraded.
// Writers on the same objects (repair, sweep, another rebalance) must not run
// at the same time: the last manifest would win.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fls/status.h"
#include "fls/store.h"

namespace fls {

struct RebalanceMove {
  std::string object;    // object name
  int chunk = 0;         // chunk index
  std::string from, to;  // target paths
  std::uint64_t bytes = 0;
};

struct TargetUsage {
  std::string path;
  std::string domain;
  bool usable = false;                  // the directory exists
  std::uint64_t before = 0, after = 0;  // chunk bytes (after: planned for a dry run)
  int chunks_before = 0, chunks_after = 0;
};

struct RebalanceOptions {
  double tolerance = 0.10;  // allowed |usage - mean| / mean
  int max_moves = 0;        // 0: no limit
  bool dry_run = false;     // plan only; nothing is written or removed
  int parallel = 4;         // objects moved at once (the work waits on fsync)
  // Called after each object's moves are committed (progress; from the
  // worker threads, one call at a time).
  std::function<void(const std::vector<RebalanceMove>& committed)> on_commit;
};

struct RebalanceResult {
  std::vector<TargetUsage> targets;  // in store order
  std::vector<RebalanceMove> planned;
  std::vector<RebalanceMove> moved;  // committed (empty for a dry run)
  std::uint64_t bytes_moved = 0;
  int objects_committed = 0;  // manifest generations committed (one per object per round)
  double spread_before = 0, spread_after = 0;  // fractions of the mean
  bool balanced = false;                       // spread_after <= tolerance
  std::vector<std::string> skipped;            // objects not moved, with the reason
  std::vector<std::string> cleaned;            // leftovers removed (paths)
  std::vector<std::string> warnings;           // catalogue warnings, unusable targets
};

// One object as the planner sees it.
struct PlanObject {
  std::string name;
  int m = 0;
  std::vector<int> chunk_target;  // per chunk: index into the targets
  std::vector<std::uint64_t> chunk_bytes;
  bool movable = true;  // false: leave where it is (e.g. damaged)
};

// The moves that bring `usage` (per target, bytes) within tolerance, as
// (object index, chunk, destination target, round) in execution order; at
// most m moves of one object per round, rounds numbered from 0. Targets with
// usable[t] false neither give nor take chunks. `free` limits what a
// destination may take (bytes). Pure.
struct PlannedMove {
  int object = 0, chunk = 0, from = 0, to = 0;
  int round = 0;
};
std::vector<PlannedMove> PlanRebalance(const std::vector<Target>& targets,
                                       const std::vector<bool>& usable,
                                       const std::vector<std::uint64_t>& free,
                                       const std::vector<PlanObject>& objects, double tolerance,
                                       int max_moves);

// max |usage[t] - mean| / mean over usable targets (0 when nothing is stored).
double UsageSpread(const std::vector<std::uint64_t>& usage, const std::vector<bool>& usable);

// Plans and (unless dry_run) performs the moves. NoSpace/IOError naming the
// target and object when a move fails: the moves committed before stay, the
// failed object keeps its previous generation, its temporaries are removed.
Status RebalanceStore(const Store& store, const RebalanceOptions& options, RebalanceResult* result);

}  // namespace fls
