// Upgrade: rewrites a store's path-addressed objects (manifest versions 1
// and 2) as version 3 objects of the same name, content, mode and mtime, and
// the same k, m, matrix and stripe width, then removes the old objects'
// manifests and chunk files (`fls upgrade`, docs/OPERATIONS.md).
//
// Each object is restored into a scratch file (every block CRC and the
// SHA-256 checked), archived again, and only then are its old files removed.
// A kill at any point leaves every object restorable: until the new
// manifest's commit the name resolves to the old object; from then on a
// lookup by name prefers the version 3 manifest (Store::FindObject). The new
// object's id is derived from the old one (UpgradedObjectId), so a rerun
// recognises both the chunk files of an attempt killed before its commit
// (removed before archiving again) and the old object's leftovers once the
// new one is committed (removed). When no path-addressed manifest is left
// on a target, its identity stops saying it may hold one, and lookups stop
// listing it.
//
// Thread-safety: UpgradeStore takes the store's maintenance lock, so it
// never overlaps a repair sweep, a rebalance or another upgrade of the same
// targets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fls/manifest.h"
#include "fls/status.h"
#include "fls/store.h"

namespace fls {

struct UpgradeOptions {
  // Where objects are restored before being archived again; it needs room
  // for the largest object. Default: $TMPDIR, else /tmp.
  std::string scratch_dir;
  std::string backend = "auto";
  int threads = 0;  // backend worker threads; 0 = one per core
};

struct UpgradeFailure {
  std::string name;  // the object's name; its id (32 hex digits) when no copy names it
  Status status;     // why it was left as it is
};

struct UpgradeReport {
  std::vector<std::string> upgraded;  // names rewritten as version 3 by this run
  int already_v3 = 0;                 // objects that were version 3 before this run
  // Names whose path-addressed manifests and chunks an interrupted run left
  // beside their committed version 3 object; removed by this run.
  std::vector<std::string> leftovers_removed;
  std::vector<std::string> removed;  // every file this run removed
  std::vector<UpgradeFailure> failures;
  std::vector<std::string> warnings;
  // Bytes of chunk and manifest files on the targets (both versions) before
  // and after the run.
  std::uint64_t bytes_before = 0, bytes_after = 0;
  int path_addressed_left = 0;  // path-addressed manifest files still on the targets
  // Member records written for packs that had none (fls/pack.h).
  std::uint64_t members_recorded = 0;
};

// The id of the version 3 object that replaces the path-addressed object
// `old`: the first 16 bytes of SHA-256("fls-upgrade" || the 16 id bytes).
ObjectId UpgradedObjectId(const ObjectId& old);

// Upgrades every path-addressed object of `store`. Objects that cannot be
// upgraded (more than m bad blocks in a stripe, unreadable manifests, a name
// held by another object) are left as they are and listed in
// report->failures; the run goes on. Returns a non-OK status only when the
// run could not start: another maintenance run holds the store
// (Unavailable), the targets cannot join (InvalidArgument, IOError), or the
// scratch directory is not a directory (InvalidArgument).
Status UpgradeStore(const Store& store, const UpgradeOptions& options, UpgradeReport* report);

}  // namespace fls
