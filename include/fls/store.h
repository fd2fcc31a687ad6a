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
// The catalogue is the manifests found on the targets and nothing else: an
// object is listed when some target holds a readable manifest for it; of
// several generations the newest wins. When every copy listed for an object
// is gone by the time it is read (a writer committed a newer generation and
// removed the old one meanwhile), the object is listed again (bounded), so a
// reader never misses an object because of a concurrent commit.
//
// Thread-safety: a Store is immutable after creation; its methods may be
// called concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fls/env.h"
#include "fls/manifest.h"
#include "fls/status.h"

namespace fls {

struct Target {
  std::string path;
  std::string domain;
};

// Where copies of one manifest generation were found.
struct CatalogEntry {
  Manifest manifest;                      // the newest readable generation
  std::vector<std::string> copies;        // paths of that generation's copies
  std::vector<std::string> stale_copies;  // older generations still on targets
  std::vector<std::string> problems;      // unreadable manifests of this object
};

struct Catalog {
  std::vector<CatalogEntry> objects;  // sorted by name
  std::vector<std::string> warnings;  // unreadable targets, bad manifest files
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

  // Chooses a target for each of `shards` chunks (`exclude`: targets not to
  // use, e.g. those already holding other chunks of the object in repair).
  // InvalidArgument when there are too few targets and sharing is not allowed,
  // or too few writable targets at all. `spread` (e.g. bits of the object
  // id) chooses among targets with equal free space, so that objects spread
  // over all of them.
  Status PlaceChunks(int shards, std::uint64_t chunk_bytes, bool allow_shared, std::uint64_t spread,
                     std::vector<int>* placement) const;

  // Reads every target's manifests. Unreadable targets and files become
  // warnings, never errors: the catalogue is what can be found.
  Catalog ReadCatalog() const;
  // NotFound naming the object when no manifest of that name is found.
  Status FindObject(const std::string& name, CatalogEntry* entry) const;

  // Start-up cleanup for writers (archive, repair, the service's jobs):
  // removes from every target the temporaries that no writer will finish
  // (RemoveStaleTempFiles with kStaleTempIdleNs). Problems (an unreadable
  // target, a file that cannot be removed) go to `warnings`; `removed`
  // (optional) gets the removed paths.
  void RemoveStaleTemporaries(std::vector<std::string>* removed,
                              std::vector<std::string>* warnings) const;
  // A temporary untouched for an hour is stale even when its writer cannot be
  // judged (another host sharing the target).
  static constexpr std::int64_t kStaleTempIdleNs = 3600LL * 1000 * 1000 * 1000;

 private:
  Store(Env* env, std::vector<Target> targets) : env_(env), targets_(std::move(targets)) {}
  Env* env_;
  std::vector<Target> targets_;
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
