// What interrupted writers leave behind, and cleaning it up. Rebalancing and
// repair sweeps both do this, under the store's maintenance lock
// (host/archive/maintenance_lock.h), so no other maintenance run is
// mid-commit: per object while they walk the catalogue
// (CleanManifestLeftovers), and for chunk files after the walk
// (RemoveLeftoverChunks).
//
// Thread-safety: free functions; run them from one maintenance run at a time.
#pragma once

#include <string>
#include <vector>

#include "fls/manifest.h"
#include "fls/store.h"
#include "fls/unreferenced.h"

namespace fls::internal {

// One object's manifest copies: a generation whose copies were only partly
// written is committed again in full; older and unreadable copies go. An
// object whose first generation is only partly written and recent is left
// alone (an archive may be committing it): *in_flux is set. Removed paths go
// to `cleaned`, problems to `warnings`. True when the object's manifests
// changed (read it again).
bool CleanManifestLeftovers(const Store& store, const CatalogEntry& entry,
                            std::vector<std::string>* cleaned, std::vector<std::string>* warnings,
                            bool* in_flux);

// The leftovers among `found` (FindUnreferencedChunks: chunk files of known
// objects that their manifest places on another target) are removed once
// the placed copy checks out (size and checksum as `refs` recorded them, by
// its chunk format's rule, and every block CRC); when
// it does not, the leftover stays and a warning says so. Orphans are never
// touched. True when anything was removed.
bool RemoveLeftoverChunks(const Store& store, const ChunkReferences& refs,
                          const std::vector<UnreferencedChunk>& found,
                          std::vector<std::string>* cleaned, std::vector<std::string>* warnings);

}  // namespace fls::internal
