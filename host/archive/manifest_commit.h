// The commit point of every writer (archive, repair, sweep, rebalance): where
// a manifest generation's copies go, and writing them so that a failure
// leaves none behind.
//
// Thread-safety: free functions; concurrent calls for different objects are
// safe, for the same object the last generation written wins.
#pragma once

#include <string>
#include <vector>

#include "fls/env.h"
#include "fls/manifest.h"
#include "fls/status.h"
#include "fls/store.h"

namespace fls::internal {

// Targets for manifest copies: every distinct target holding a chunk, then
// other targets of the store until there are at least m + 1 (when it has them).
std::vector<std::string> ManifestTargets(const Store& store, const Manifest& mf);

// Writes the copies of `mf` (mf.manifest_targets) durably; `written` gets
// their paths. On failure removes the copies it wrote and names the target.
Status CommitManifest(Env* env, const Manifest& mf, std::vector<std::string>* written);

// Commits `next` (an edited copy of entry.manifest) as the object's next
// generation: the generation number goes above every generation found on the
// targets, the copies go to ManifestTargets whose directories exist now.
// Nothing is removed: see RemoveSupersededCopies.
Status CommitNextGeneration(const Store& store, const CatalogEntry& entry, Manifest* next,
                            std::vector<std::string>* written);

// Removes the copies of the generations `entry` found (current and stale),
// once a newer generation is committed. Housekeeping: failures are ignored
// (a leftover older copy is reported as stale and removed by the next writer).
void RemoveSupersededCopies(Env* env, const CatalogEntry& entry);

}  // namespace fls::internal
