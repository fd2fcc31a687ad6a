// Store: the storage targets an archive writes to, and the catalogue read
// back from them.
//
// A target is a directory with a failure-domain label (disk, host, rack,
// zone: any string; targets with the same label are assumed to fail
// together). A store comes from `--target DIR[=DOMAIN]` specs or a YAML file:
//
//   targets:
//     - path: /mnt/d0/fls     # relative paths are relative to the YAML file
//       domain: rack1         # optional; default: the path itself
//
// Placement puts the k + m chunks of an object on distinct targets, taking
// failure domains round-robin (most free space first) and, inside a domain,
// the target with the most free space first. With fewer targets than chunks
// it shares targets only when allowed, and reports what is left of the fault
// tolerance.
//
// Identity: a target joins the store at `fls init`, or else when the first
// command that writes to it runs (archive, repair, a repair sweep, rebalance):
// it gets fls-target.json with the store's id (shared by all its targets) and
// its own target id, and version 3 manifests name targets by that id. Opening a
// store reads the identities: targets carrying two different store ids, or two
// targets carrying one target id (a copied directory), are refused. A target
// whose identity file is damaged is reported and not written to.
//
// The catalogue is the manifests found on the targets and nothing else. A
// lookup by name (FindObject) opens the name's version 3 manifest file
// (fls-n<hash>.manifest) on every target: its cost grows with the number of
// targets, never with the number of objects. Only when that finds nothing
// and some target may hold path-addressed manifests (an identity that says so,
// or a directory that has not joined) are those targets listed, as version
// 1 stores always were. WalkCatalog streams every object: it lists the
// target directories once, keeping 16 bytes per name, then reads each
// name's copies. Of several generations the newest readable one wins.
//
// Thread-safety: a Store may be used from several threads at once. Its
// targets are fixed at creation; the identities it knows are guarded by a
// mutex (Join and lookups may add what other processes wrote meanwhile).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "fls/env.h"
#include "fls/manifest.h"
#include "fls/status.h"

namespace fls {

struct Target {
  std::string path;
  std::string domain;
};

// An object as found on the targets.
struct CatalogEntry {
  Manifest manifest;                      // the newest readable generation (targets resolved)
  std::vector<std::string> copies;        // paths of that generation's copies
  std::vector<std::string> stale_copies;  // older generations still on targets
  std::vector<std::string> bad_copies;    // copies that cannot be read (paths)
  std::vector<std::string> problems;      // why, and copies that disagree
  std::uint64_t max_generation = 0;       // the highest generation seen in any copy
};

// A name whose every manifest copy is unreadable: the object may exist but
// cannot be read. `name` when some copy is parsable enough to tell it (else
// empty), `hash` the name hash of version 3 files (version 1: the object id).
struct UnreadableObject {
  std::string name;
  std::string hash;
  std::vector<std::string> paths;
  std::vector<std::string> problems;
};

struct Catalog {
  std::vector<CatalogEntry> objects;  // sorted by name
  std::vector<UnreadableObject> unreadable;
  std::vector<std::string> warnings;  // unreadable targets, identities, bad manifest files
};

// What a catalogue walk found besides the objects.
struct CatalogWalk {
  std::uint64_t names = 0;  // distinct manifest names found (version 2) + version 1 objects
  std::vector<UnreadableObject> unreadable;
  // Deleted objects whose tombstones are still on the targets (a delete
  // interrupted, or a target unreachable when it ran): not passed to `fn`;
  // FinishDeletions (fls/delete.h) removes what they left.
  std::vector<CatalogEntry> tombstones;
  std::vector<std::string> warnings;
};

class Store {
 public:
  // Specs "DIR" or "DIR=DOMAIN". InvalidArgument for an empty list, an empty
  // path or a duplicate target.
  static Status FromTargetSpecs(Env* env, const std::vector<std::string>& specs,
                                std::unique_ptr<Store>* store);
  // InvalidArgument naming the key and line for a malformed config.
  static Status FromYamlFile(Env* env, const std::string& path, std::unique_ptr<Store>* store);
  static Status FromTargets(Env* env, std::vector<Target> targets, std::unique_ptr<Store>* store);

  Env* env() const { return env_; }
  const std::vector<Target>& targets() const { return targets_; }
  // The target whose path equals `path`, or -1.
  int TargetIndex(const std::string& path) const;
  // Index of `path` among the targets, as written in a manifest chunk:
  // TargetIndexById for version 3 (target_id), TargetIndex for version 1.
  int TargetIndexOf(const ManifestChunk& c) const;

  // Chooses a target for each of `shards` chunks among the joined targets.
  // InvalidArgument when there are too few targets and sharing is not allowed,
  // or too few writable targets at all. `spread` (e.g. bits of the object
  // id) chooses among targets with equal free space, so that objects spread
  // over all of them.
  Status PlaceChunks(int shards, std::uint64_t chunk_bytes, bool allow_shared, std::uint64_t spread,
                     std::vector<int>* placement) const;

  // Reads every target's manifests (WalkCatalog, collected and sorted by
  // name). Unreadable targets and files become warnings and `unreadable`
  // entries, never errors: the catalogue is what can be found.
  Catalog ReadCatalog() const;
  // Streams the catalogue: `fn` gets each object once (in the order of the
  // name hashes, then version 1 objects) and returns false to stop early.
  // `on_total` (optional) learns the number of names before the first call.
  // Memory: 16 bytes per version 3 name, plus the version 1 file names.
  void WalkCatalog(const std::function<bool(CatalogEntry& entry)>& fn, CatalogWalk* walk,
                   const std::function<void(std::uint64_t names)>& on_total = nullptr) const;
  // The object `name`: NotFound naming it when no manifest of that name
  // exists (when the name's manifest file holds another name, a SHA-256
  // collision, that name goes to *holder); Corruption listing the copies
  // when every copy found is unreadable. When the newest generation is a
  // tombstone (a deleted object) the answer is NotFound too, and *entry
  // holds the tombstone (entry->manifest.tombstone), so that writers can
  // commit above its generation and deletes can finish.
  Status FindObject(const std::string& name, CatalogEntry* entry,
                    std::string* holder = nullptr) const;

  // Identities. Writers call Join before they write: every existing target
  // directory without an identity joins the store (fls-target.json), with
  // the store id its other targets carry, or a new one. Idempotent.
  // InvalidArgument when the targets carry different store ids; IOError
  // naming a target directory that exists but cannot get an identity.
  Status Join() const;
  // The store id ("" before any target joined).
  std::string store_id() const;
  // Target i's id ("" when it has not joined or its identity is damaged).
  std::string TargetId(int i) const;
  // The target carrying `id`, or -1. A target whose directory is gone (its
  // identity with it) is still found when the other targets' identities
  // remember which listed directory it was (a hint: docs/FORMAT.md).
  int TargetIndexById(std::string_view id) const;
  // Problems with identity files found so far (damaged, unreadable).
  std::vector<std::string> IdentityWarnings() const;
  // Fills in the directories and domains of a version 3 manifest's targets
  // (ManifestChunk::target/domain, manifest_targets) from their ids.
  // A path-addressed manifest's directories that are none of the store's
  // targets (a store moved, or copied with its own configuration) are
  // mapped to the store target holding the file by name (chunks; manifest
  // copies to distinct holders); directories found nowhere stay as written.
  void Resolve(Manifest* m) const;
  // Before a path-addressed manifest copy is written to target i: its identity
  // must say that it holds path-addressed manifests.
  Status NoteV1Manifest(int i) const;
  // True when some target may hold path-addressed manifests.
  bool MayHoldV1() const;

  // Start-up cleanup for writers (archive, repair, the service's jobs):
  // removes from every target the temporaries that no writer will finish
  // (RemoveStaleTempFiles with kStaleTempIdleNs). Problems (an unreadable
  // target, a file that cannot be removed) go to `warnings`; `removed`
  // (optional) gets the removed paths.
  void RemoveStaleTemporaries(std::vector<std::string>* removed,
                              std::vector<std::string>* warnings) const;
  // The same for writers that start often (`fls archive`, `fls rm`, the
  // service's executors): a target whose last scan was less than
  // kTempScanIntervalNs ago is not listed again, because listing a target
  // that holds millions of files costs more than archiving a few small
  // ones. The time of a target's last scan is the mtime of its empty marker
  // file kTempScanMarker. Sweeps, repairs and upgrades scan every time.
  void RemoveStaleTemporariesThrottled(std::vector<std::string>* removed,
                                       std::vector<std::string>* warnings) const;
  // A temporary untouched for an hour is stale even when its writer cannot be
  // judged (another host sharing the target).
  static constexpr std::int64_t kStaleTempIdleNs = 3600LL * 1000 * 1000 * 1000;
  static constexpr char kTempScanMarker[] = ".fls-temp-scan";
  static constexpr std::int64_t kTempScanIntervalNs = 600LL * 1000 * 1000 * 1000;

 private:
  struct Identity {
    std::string store_id, target_id;  // empty: not joined (or damaged)
    bool v1_objects = false;
    std::int64_t created_ns = 0;
    std::string problem;                         // damaged or unreadable identity file
    std::map<std::string, std::string> members;  // as its identity file has them
  };
  Store(Env* env, std::vector<Target> targets) : env_(env), targets_(std::move(targets)) {}
  // Both RemoveStaleTemporaries: with `throttled`, targets scanned less than
  // kTempScanIntervalNs ago are skipped and a scan writes the marker.
  void RemoveStaleTemporariesOnTargets(bool throttled, std::vector<std::string>* removed,
                                       std::vector<std::string>* warnings) const;
  // Reads the identities of targets not known to have joined; InvalidArgument
  // on conflicting store or target ids. mu_ held.
  Status LoadIdentitiesLocked() const;
  bool MayHoldV1Locked() const;
  // The target `id` names: a joined one, or (through the members hint) a
  // listed directory that has no identity now (a lost target). -1: none.
  int IndexOfIdLocked(const std::string& id) const;
  // Every joined target's identity lists all joined targets (and keeps the
  // entries of targets that are gone).
  Status UpdateMembersLocked() const;
  Status FindV1(const std::string& name, CatalogEntry* entry) const;
  Env* env_;
  std::vector<Target> targets_;
  mutable std::mutex mu_;
  mutable std::vector<Identity> ids_;  // per target
  mutable std::string store_id_;
  mutable std::map<std::string, std::string> members_;  // union of the identities' members
};

// Pure placement over (domain, free bytes) of each target: see Store.
// Returns per chunk the index into `targets`.
Status PlaceOnTargets(const std::vector<Target>& targets, const std::vector<std::uint64_t>& free,
                      int shards, std::uint64_t chunk_bytes, bool allow_shared,
                      std::vector<int>* placement, std::uint64_t spread = 0);

// How many whole targets (and domains) may fail with every stripe still
// recoverable, given `m` parity chunks and the chunk -> target placement.
struct FaultTolerance {
  int targets = 0;
  int domains = 0;
};
FaultTolerance ToleranceOf(const std::vector<std::string>& chunk_targets,
                           const std::vector<std::string>& chunk_domains, int m);

}  // namespace fls
