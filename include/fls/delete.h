// Deleting objects and packed files, crash-safe (`fls rm`, the service's
// delete jobs), and finishing deletes that a crash or an unreachable target
// interrupted (repair sweeps, `fls rm --finish`).
//
// An object is deleted by one durable step: its next manifest generation is
// a tombstone (kind "tombstone", docs/FORMAT.md 3.6), written like every
// generation (temporaries fsynced, renamed over the copies, directories
// fsynced). From the first renamed copy on, the newest generation is the
// tombstone and the object is gone from every lookup, listing and restore.
// Then its chunk files are removed on every target, then its tombstone
// copies; those last removals happen only when every target of the store
// can be listed, since a target that is away may still hold an older copy
// that the tombstone must keep outranking. A packed file is deleted the same
// way: a member tombstone replaces each copy of its record (docs/FORMAT.md
// section 8), then the tombstones go; its bytes stay in the pack as dead
// space until `fls compact` rewrites the pack (fls/compact.h).
//
// A delete killed at any point leaves the name either fully present or
// deleted; FinishDeletions (run by every repair sweep) removes what an
// interrupted delete left. Deletes take the store's maintenance lock, so that
// no repair, rebalance or compaction commits a generation of the same object
// meanwhile.
//
// Thread-safety: free functions; one deleting process per store at a time
// (the maintenance lock enforces it).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fls/status.h"
#include "fls/store.h"

namespace fls {

struct DeleteOptions {
  bool force = false;               // a name that does not exist is not an error
  bool override_retention = false;  // delete before retain_until (the caller logs it)
  std::int64_t now_ns = 0;          // the deletion time; 0: the clock
};

// What became of one name.
struct DeleteResult {
  std::string name;
  bool existed = false;  // false: nothing of that name (with force: no error)
  bool member = false;   // a packed file (else an object)
  std::string pack;      // member: the pack its bytes stay in until compaction
  std::uint64_t size = 0;
  // Set when retention refused the delete (InvalidArgument), or when it was
  // overridden.
  bool retained = false, retention_overridden = false;
  std::int64_t retain_until_ns = 0;
  // Every file of the name is gone; false when something stays for a sweep
  // (a target that could not be listed, a file that could not be removed:
  // `warnings` says which).
  bool finished = false;
  std::uint64_t files_removed = 0;
  std::vector<std::string> warnings;
};

// Deletes `names` under the maintenance lock (waiting up to lock_wait_ms for
// a sweep or rebalance to release it; Unavailable naming the holder after
// that). `on_result(i, status, result)` reports each name once. Per-name
// failures go there: NotFound for a missing name (unless force),
// InvalidArgument for a name retained (result.retained) or a pack object's
// name (packs are removed by compaction only), errors of the targets.
// Returns an error only when the lock or the store cannot be used.
Status DeleteNames(
    const Store& store, const std::vector<std::string>& names, const DeleteOptions& options,
    int lock_wait_ms,
    const std::function<void(std::size_t, const Status&, const DeleteResult&)>& on_result);

// What FinishDeletions did.
struct FinishReport {
  std::uint64_t objects = 0, members = 0;  // tombstones met
  std::uint64_t finished = 0;              // names whose last file is gone now
  std::uint64_t files_removed = 0;
  std::vector<std::string> warnings;
};

// Finishes every delete whose tombstones are still on the targets: removes
// the deleted objects' chunk files and older manifest copies, then the
// tombstones themselves when every target can be listed. The caller holds
// the maintenance lock (repair sweeps do).
void FinishDeletions(const Store& store, FinishReport* report);

namespace internal {

// Deletes one object or packed file; the caller holds the maintenance lock.
// `recorded_packs` (optional) remembers, by pack id, whether a pack's index
// says its files all got records, so that deleting many files of one pack
// reads its index once.
Status DeleteName(const Store& store, const std::string& name, const DeleteOptions& options,
                  DeleteResult* result, std::map<std::string, bool>* recorded_packs = nullptr);
// The deletion step of an object found as `entry` (also used by compaction
// for old packs): commits the tombstone, removes the chunk files, then the
// tombstone when it can. `result` gets files_removed, finished, warnings.
Status DeleteObjectEntry(const Store& store, const CatalogEntry& entry, std::int64_t now_ns,
                         DeleteResult* result);

// Removes `path` if it still holds what `still` accepts: the file is first
// renamed away, so that a writer who renames a new file to `path` meanwhile
// (an archive of the same name) never loses it; what `still` rejects is
// put back. True when removed.
bool RemoveIfStill(Env* env, const std::string& path,
                   const std::function<bool(const std::string& text)>& still);

}  // namespace internal

}  // namespace fls
