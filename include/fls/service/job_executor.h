// JobExecutor: the seam between the job service and the archive layer.
//
// The service knows jobs, items, workers and the journal; it knows nothing of
// chunks or GF arithmetic. A worker hands each job to an executor, which does
// the work against the store described by StoreConfig and reports each item
// (a source file for archive, an object name otherwise) as it finishes.
//
// Thread-safety: one executor runs one job at a time; JobContext methods may
// be called from any thread the executor uses.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fls/service/config.h"
#include "fls/service/jobs.h"
#include "fls/status.h"

namespace fls::service {

struct Job {
  std::int64_t id = 0;
  int attempt = 0;
  JobKind kind = JobKind::kArchive;
  // The kind's spec (fls/service/jobs.h; its alternative is `kind`), paths
  // already resolved; every field was checked by WorkerRequest::FromJson.
  JobSpec spec;
  std::vector<std::string> items;  // the items still to do (done ones are left out)
  // The service's roots (resolved): every path of the job is opened below
  // one of them (service/confined_io.h), never by its name alone.
  std::vector<std::string> source_roots, output_roots;
};

class JobContext {
 public:
  virtual ~JobContext() = default;
  // True once the job was cancelled (or the worker lost its broker): the
  // executor should stop at the next item or batch boundary and return
  // Status::Cancelled.
  virtual bool Cancelled() const = 0;
  // One item finished: ok, or failed with `status` naming why. `result` is
  // kind-specific JSON (object name, sizes, health); `bytes` the data bytes
  // it moved, for throughput figures. Idempotent per name.
  virtual void ItemDone(const std::string& name, const Status& status, nlohmann::json result,
                        std::uint64_t bytes) = 0;
};

class JobExecutor {
 public:
  virtual ~JobExecutor() = default;
  // Runs `job` to the end. Ok when every item was attempted (item failures are
  // reported through ItemDone and make the job end failed); Cancelled when it
  // stopped because ctx.Cancelled(); any other error fails the whole job, e.g.
  // Unavailable for a job kind this build cannot execute.
  virtual Status Execute(const Job& job, JobContext& ctx) = 0;
  // The codec backend doing the arithmetic ("isal", "cuda", ...), for stats.
  virtual std::string backend() const = 0;
  // How the last job's stripe batches were merged into backend calls
  // ({"backend_calls", "requests", "stripes", "bytes"}), then forgotten; an
  // empty value when the job coded nothing through the coalescing backend.
  virtual nlohmann::json TakeBatchingStats() { return nlohmann::json(); }
};

// Builds an executor for a store; the worker keeps it while the store
// settings stay the same.
using ExecutorFactory =
    std::function<Status(const StoreConfig& store, std::unique_ptr<JobExecutor>* executor)>;

// The executor of `fls serve` and `fls worker`: the archive layer
// (fls/archive.h) over the store's targets: archive one object per source
// file, restore / verify / repair per object name, stats from the catalogue.
Status CreateDefaultExecutor(const StoreConfig& store, std::unique_ptr<JobExecutor>* executor);

// The object name an archive job gives a source file: name_prefix followed by
// the file's resolved path without its leading '/'.
std::string ArchiveObjectName(const std::string& name_prefix, const std::string& resolved_path);

}  // namespace fls::service
