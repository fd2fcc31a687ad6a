// Sweep: check (and repair) every object of a store in one pass.
//
//   scan     every object's chunks are read and every block CRC checked
//            (VerifyObject), several objects at once on a small thread pool;
//            --deep also recomputes parity and the SHA-256.
//   repair   (unless verify_only) the damaged objects of each window of
//            objects are rebuilt together: their stripes are read (parity
//            only where data blocks are bad), grouped by code (k, m, matrix,
//            block size, chunks wanted) and reconstructed in backend batches
//            that mix many objects, up to batch_bytes per call (one GPU launch
//            per batch on the cuda backend). Rebuilt chunks go to temporaries
//            checked against the manifest's CRC32C, then into place: a lost
//            target's chunks move to targets holding no other chunk of the
//            object (new failure domains first); then one new manifest
//            generation per object (the commit point) and the old copies go.
//   record   each window's results and the fact that its objects are done go
//            to the health database in one transaction: a sweep that is
//            killed resumes after the last finished window.
//
// Fault tolerance is never lowered: an object is only changed by committing
// a manifest whose every chunk was written and checked. Objects with a stripe
// of more than m bad blocks are left as they are and named as unrecoverable.
//
// Order: the catalogue is walked (fls/store.h, WalkCatalog) and scanned
// window by window as it streams, so memory does not grow with the store
// beyond the health records and the chunk placements (fls/unreferenced.h)
// kept for the check of unreferenced chunk files at the end.
//
// Thread-safety: RunSweep may run concurrently with readers of the store. A
// repair sweep holds the store's maintenance lock (a second repair sweep or a
// rebalance of the same store, in any process, fails with Unavailable naming
// the holder); a verify-only sweep takes no lock. Single-object repairs
// (`fls repair`) are not coordinated with it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fls/archive.h"
#include "fls/status.h"
#include "fls/store.h"
#include "fls/unreferenced.h"

namespace fls {

class HealthDb;

struct SweepProgress {
  std::uint64_t objects_total = 0, objects_done = 0;  // done includes skipped ones
  std::uint64_t bytes_read = 0;
  std::uint64_t damaged = 0, rebuilt = 0, unrecoverable = 0;
};

struct SweepOptions {
  bool verify_only = false;
  bool deep = false;
  std::uint64_t rate_bytes_per_s = 0;  // 0: unlimited
  std::string backend = "auto";
  int threads = 0;                        // backend worker threads; 0 = one per core
  int readers = 4;                        // objects scanned at once
  std::uint64_t batch_bytes = 64u << 20;  // stripe bytes per reconstruct call
  std::size_t window = 64;                // objects per checkpoint
  HealthDb* db = nullptr;                 // optional: records and resume
  bool resume = true;                     // continue an unfinished sweep of the same mode
  std::vector<std::string> names;         // only these objects (empty: all)
  // Unreferenced chunk files modified more recently than this are not
  // reported (a writer renames its chunks shortly before its commit).
  std::int64_t unreferenced_min_age_ns = kUnreferencedMinAgeNs;
  // Repair sweeps remove packs with no live file once their manifest is
  // this old (an archive commits a pack before its files' records).
  std::int64_t dead_pack_min_age_ns = kUnreferencedMinAgeNs;
  std::function<void(const SweepProgress&)> progress;  // after each window
  std::function<bool()> cancelled;                     // checked between windows
  // After each window, per object: its health when scanned, whether it was
  // repaired, and the error when its repair failed ("" otherwise).
  std::function<void(const std::string& name, Health scanned, bool rebuilt,
                     const std::string& error, std::uint64_t bytes)>
      on_object;
};

struct SweepReport {
  bool resumed = false;
  std::int64_t sweep_id = 0;
  std::uint64_t objects_total = 0;    // in the catalogue (or named)
  std::uint64_t objects_skipped = 0;  // done before an interruption
  std::uint64_t objects_scanned = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t healthy = 0;
  std::uint64_t damaged = 0;  // degraded when scanned (repairable)
  std::uint64_t rebuilt = 0;  // objects repaired (new manifest generation)
  std::uint64_t chunks_rebuilt = 0;
  std::vector<std::string> unrecoverable;  // object names
  std::vector<std::string> failed;         // "name: error" (repair failed, object unchanged)
  std::uint64_t backend_calls = 0;         // reconstruct calls
  std::uint64_t stripes_reconstructed = 0;
  std::uint64_t max_stripes_per_call = 0;
  std::uint64_t max_objects_per_call = 0;
  bool cancelled = false;
  double seconds = 0;
  std::vector<std::string> warnings;  // catalogue and target problems
  // Repair sweeps: leftovers of interrupted runs removed (stale
  // temporaries, superseded manifest copies, chunk files no manifest places
  // once the placed copy checks out).
  std::vector<std::string> cleaned;
  // Repair sweeps of the whole store: deletes finished (every file of the
  // deleted name gone now) and packs with no live file removed.
  std::uint64_t deletes_finished = 0;
  std::uint64_t dead_packs_removed = 0;
  // Sweeps of the whole store (no names given): names whose every manifest
  // copy is unreadable, and chunk files no manifest names (orphans, and
  // leftovers a repair sweep could not remove), at least
  // kUnreferencedMinAgeNs old.
  std::vector<UnreadableObject> unreadable_objects;
  std::vector<UnreferencedChunk> unreferenced;
};

// Runs one sweep. A non-OK status only when the sweep itself cannot run (bad
// backend, health database error); damage is reported in `report`.
Status RunSweep(const Store& store, const SweepOptions& options, SweepReport* report);

// "verify", "verify-deep", "repair" or "repair-deep": a sweep resumes only an
// unfinished sweep of the same mode.
std::string SweepMode(const SweepOptions& options);

}  // namespace fls
