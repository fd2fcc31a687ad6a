// The commit point of every writer (archive, repair, sweep, rebalance): where
// a manifest generation's copies go, and writing them so that a failure
// leaves none behind.
//
// Version 3 copies live at one fixed name per target (fls-n<hash>.manifest),
// so a new generation replaces the old one in place. CommitManifest first
// writes and fsyncs a temporary on every target, then renames them over the
// fixed names and fsyncs the directories: a failed write or fsync changes
// nothing; a failure among the renames puts back what was there. Version 1
// copies get a new file name per generation, and older ones are removed
// after the commit.
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

// Fills mf's manifest_targets (and, version 3, manifest_target_ids): the
// targets that get copies. Version 3: exactly m + 1 (when the store has
// them): the object's chunk targets in rendezvous order of the name hash
// (RendezvousScore, highest first), then other joined targets in that
// order, only directories that exist. Version 1: every distinct chunk
// target, then other targets of the store until there are m + 1.
void ChooseManifestTargets(const Store& store, Manifest* mf);

// The rendezvous score of target `target_id` for the name hash `hash` (32
// hex digits): the first 8 bytes, big-endian, of SHA-256(the 16 hash bytes
// followed by the 16 ASCII digits of the target id).
std::uint64_t RendezvousScore(const std::string& hash, const std::string& target_id);

// Writes the copies of `mf` (mf.manifest_targets) durably; `written` gets
// their paths. On failure the targets hold what they held before (version 3:
// `previous`, the manifest text those copies had, when there was one; else
// nothing) and the error names the target.
Status CommitManifest(Env* env, const Manifest& mf, std::vector<std::string>* written,
                      const std::string& previous = std::string());

// Commits `next` (an edited copy of entry.manifest) as the object's next
// generation: the generation number goes above every generation found on the
// targets, the copies go to ChooseManifestTargets. Nothing else is removed:
// see RemoveSupersededCopies.
Status CommitNextGeneration(const Store& store, const CatalogEntry& entry, Manifest* next,
                            std::vector<std::string>* written);

// Removes the copies `entry` found (current, stale and unreadable ones)
// except those at the paths in `keep` (the new generation's, which replaced
// version 3 copies in place), once a newer generation is committed.
// Housekeeping: failures are ignored (a leftover older copy is reported as
// stale and removed by the next writer).
void RemoveSupersededCopies(Env* env, const CatalogEntry& entry,
                            const std::vector<std::string>& keep);

}  // namespace fls::internal
