// Journal: the durable record of every job the service accepted, in an
// embedded SQLite database in WAL mode. SUBMIT, CANCEL and CLOSE commit
// with synchronous=FULL (fsynced before the client hears back: they survive
// kill -9 and power loss); worker progress commits with NORMAL (survives
// kill -9; power loss may roll back the last results, which a resumed job
// recomputes without storing anything twice).
//
// A job moves queued -> running -> done | failed | cancelled; a running job
// whose worker dies, or that was running when the service stopped, goes back
// to queued. Each job has items (source files for archive, object names
// otherwise) with a state and a result or error of their own; items already
// done are not given to workers again when a job resumes.
//
// Leases: before a job runs, the broker takes a lease on every object it may
// write (its keys); a job whose keys overlap another running job's waits, so
// two workers never write the same object at once. The key "*" (repair of
// everything) conflicts with every key.
//
// Thread-safety: none; the broker thread owns the journal.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fls/status.h"

struct sqlite3;

namespace fls::service {

struct JobItemRecord {
  std::string name;
  std::string state;  // pending | done | failed
  nlohmann::json result;
  std::string error;
  std::uint64_t bytes = 0;
};

struct JobRecord {
  std::int64_t id = 0;
  std::string kind;
  std::string state;  // queued | running | done | failed | cancelled
  nlohmann::json spec;
  std::string error;
  std::string worker;
  int attempt = 0;
  bool cancel_requested = false;
  double created = 0, started = 0, finished = 0;  // Unix seconds
  std::int64_t items_total = 0, items_done = 0, items_failed = 0;
  std::uint64_t bytes = 0;
  std::string backend;
  double seconds = 0;                // execution time reported by the worker
  std::vector<JobItemRecord> items;  // filled on request only

  nlohmann::json ToJson(bool with_items) const;
};

struct JournalStats {
  std::map<std::string, std::int64_t> jobs_by_state;
  struct Backend {
    std::uint64_t bytes = 0;
    double seconds = 0;
    std::int64_t jobs = 0;
  };
  std::map<std::string, Backend> by_backend;  // finished jobs
};

class Journal {
 public:
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Opens or creates the database (and its directory). IOError naming the
  // path when SQLite refuses.
  static Status Open(const std::string& path, std::unique_ptr<Journal>* journal);

  // At service start: running jobs go back to queued (their worker is gone),
  // or to cancelled when a cancel was requested; all leases are dropped.
  Status Recover(int* requeued);

  // Stores a new queued job durably (committed before return) and its items.
  Status Submit(const std::string& kind, const nlohmann::json& spec,
                const std::vector<std::string>& items, const std::vector<std::string>& lease_keys,
                std::int64_t* id);

  Status Get(std::int64_t id, bool with_items, JobRecord* job);
  Status List(const std::string& state, int limit, std::vector<JobRecord>* jobs);
  // Queued jobs, oldest first.
  Status Queued(int limit, std::vector<JobRecord>* jobs);
  std::int64_t QueueDepth();

  // Takes the job's leases and marks it running under `worker` with the next
  // attempt number; `started` is false (and nothing changes) when a lease is
  // held by another running job.
  Status Start(std::int64_t id, const std::string& worker, bool* started, int* attempt);
  // Pending item names of a job.
  Status PendingItems(std::int64_t id, std::vector<std::string>* names);
  // Records item results in one transaction. Each entry: name, ok, result,
  // error, bytes. Unknown names are added (verify/repair of everything).
  struct ItemUpdate {
    std::string name;
    bool ok = false;
    nlohmann::json result;
    std::string error;
    std::uint64_t bytes = 0;
  };
  Status RecordItems(std::int64_t id, const std::vector<ItemUpdate>& updates);
  // Ends a running job: releases its leases. `state` is done/failed/cancelled.
  Status Finish(std::int64_t id, const std::string& state, const std::string& error,
                const std::string& backend, double seconds);
  // A running job back to queued (its worker died or left); leases released.
  Status Requeue(std::int64_t id, const std::string& why);
  // Queued: cancelled now (`now_cancelled`). Running: flagged, the worker is
  // told. Finished: Conflict-like InvalidArgument.
  Status RequestCancel(std::int64_t id, bool* now_cancelled);
  // Forgets a finished job (Titanic's CLOSE).
  Status Close(std::int64_t id);
  Status Stats(JournalStats* stats);

 private:
  explicit Journal(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql);
  Status Error(const char* what);
  Status ReadJob(void* stmt, JobRecord* job);

  sqlite3* db_;
};

}  // namespace fls::service
