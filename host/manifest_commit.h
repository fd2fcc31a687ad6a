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

}  // namespace fls::internal
