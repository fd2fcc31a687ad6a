// What interrupted writers leave behind, and cleaning it up. Rebalancing and
// repair sweeps both run this first, under the store's maintenance lock
// (host/archive/maintenance_lock.h), so no other maintenance run is mid-commit.
//
// Thread-safety: a free function; run it from one maintenance run at a time.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "fls/manifest.h"
#include "fls/store.h"

namespace fls::internal {

// Leftovers of interrupted runs (rebalance, repair, sweeps):
// - a generation whose copies were only partly written is committed again in
//   full, and older generations' copies go;
// - chunk files of known objects that the newest manifest places on another
//   target go, once that placed copy checks out (size and CRC32C); when it
//   does not, the leftover stays and a warning says so.
// Chunk files of objects without a readable manifest are never touched (an
// archive may be writing them), nor objects whose first generation is only
// partly written and recent (an archive may be committing it: these go to
// `in_flux`). Removed paths go to `cleaned`, problems to `warnings`.
// True when anything changed (the catalogue should be read again).
bool CleanLeftovers(const Store& store, const Catalog& catalog, std::vector<std::string>* cleaned,
                    std::vector<std::string>* warnings, std::set<ObjectId>* in_flux);

}  // namespace fls::internal
