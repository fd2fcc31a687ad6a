// HealthDb: what the last sweeps found, in an SQLite database (WAL).
//
//   chunks      one row per chunk of every object: target, path, state
//               (ok | missing | damaged | ...), the stripes whose block was
//               bad, the error seen, when it was last verified
//   objects     one row per object: health, spare (m minus the most bad
//               blocks of any one stripe: how many more losses its worst
//               stripe survives), when it was last verified
//   targets     per target: reachable, free bytes, chunks held, bad chunks
//               found by the last sweep, errors seen over all sweeps
//   sweeps      one row per sweep run: mode, state (running | done), report
//   sweep_done  the objects a running sweep has finished: what lets a
//               killed sweep resume where it stopped
//
// Everything here is derived from the targets: deleting the file loses
// nothing, the next sweep (or `fls targets --rescan`) fills it again.
//
// Thread-safety: none; one thread at a time per HealthDb. Several processes
// may open the same file (SQLite locking, 5 s busy timeout).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fls/archive.h"
#include "fls/manifest.h"
#include "fls/status.h"

struct sqlite3;

namespace fls {

struct TargetHealth {
  std::string path, domain;
  bool reachable = false;
  std::string error;  // why it is unreachable
  std::uint64_t free_bytes = 0;
  std::int64_t chunks = 0;        // chunk rows naming this target
  std::int64_t bad_chunks = 0;    // of those, not ok when last checked
  std::int64_t errors = 0;        // bad chunks found here, summed over sweeps
  std::int64_t last_checked = 0;  // Unix seconds
};

// Fills h->reachable, h->error and h->free_bytes for `t` as it is now: a
// target is reachable when it is a directory that can be listed. The other
// fields of *h are left as they were.
void ProbeTargetNow(Env* env, const Target& t, TargetHealth* h);

struct ObjectHealth {
  std::string id, name, health;
  int k = 0, m = 0;
  std::uint64_t size = 0, generation = 0;
  int spare = 0;
  std::int64_t last_verified = 0;
};

// m minus the largest number of bad blocks in any one stripe of `r` (a chunk
// bad as a whole counts in every stripe). Negative: unrecoverable.
int SpareOf(const ObjectReport& r, int m);

class HealthDb {
 public:
  // Creates the file (and its tables) when missing. IOError naming the path.
  static Status Open(const std::string& path, std::unique_ptr<HealthDb>* db);
  ~HealthDb();

  // The records of one object as found (report) under manifest `mf`.
  struct ObjectRecord {
    ObjectReport report;
    Manifest manifest;
  };
  // Stores `records` and, with sweep_id > 0, marks them done for that sweep,
  // in one transaction: a sweep killed afterwards skips exactly these.
  Status RecordObjects(const std::vector<ObjectRecord>& records, std::int64_t sweep_id);
  // What a reader found outside a sweep (`fls mount`'s reads), merged into
  // the records of `mf`: `damage` holds chunks of it found bad, each with
  // the stripes whose block was bad (none: the whole chunk). Rows of another
  // generation of the object are dropped first; the object's health and
  // spare are recomputed (SpareOf) over every chunk row it has; each chunk
  // newly found bad adds one to its target's error count; and the object
  // leaves an interrupted sweep's done set, so a resumed sweep checks it
  // again. One transaction (health_db_damage.cc).
  Status RecordDamageSeen(const Manifest& mf, const std::vector<ChunkReport>& damage);
  // Removes objects (and their chunks) whose id is not in `live`.
  Status ForgetObjectsExcept(const std::set<std::string>& live);

  // Replaces the target rows (chunk counts are recomputed from the chunk
  // rows); `errors` is added to the stored total.
  Status RecordTargets(const std::vector<TargetHealth>& targets);
  Status LoadTargets(std::vector<TargetHealth>* targets);
  // Objects whose health is not "healthy", fewest spare first.
  Status LoadAtRisk(std::vector<ObjectHealth>* objects);
  Status LoadObject(const std::string& id, ObjectHealth* object, bool* found);

  // The unfinished sweep of the same mode when `resume` (its finished object
  // ids in `done`), else a new one. Any other unfinished sweep is closed.
  Status BeginSweep(const std::string& mode, bool resume, std::int64_t* id, bool* resumed,
                    std::set<std::string>* done);
  Status FinishSweep(std::int64_t id, const std::string& report_json);

 private:
  explicit HealthDb(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql);
  sqlite3* db_;
};

// The health database of a store when none is named: FLS_HEALTH_DB, else
// $XDG_STATE_HOME/fls (or ~/.local/state/fls) /health-<hash of the target
// paths>.db, so two stores never share one.
std::string DefaultHealthDbPath(const std::vector<std::string>& target_paths);

}  // namespace fls
