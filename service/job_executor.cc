#include "fls/service/job_executor.h"
#include "fls/compact.h"
#include "fls/delete.h"
#include "fls/time_text.h"

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "confined_io.h"
#include "fls/archive.h"
#include "fls/backend_registry.h"
#include "fls/batching_backend.h"
#include "fls/env.h"
#include "fls/health_db.h"
#include "fls/pack.h"
#include "fls/sha256.h"
#include "fls/store.h"
#include "fls/sweep.h"
#include "restore_job.h"

namespace fls::service {
namespace {

constexpr int kConcurrentPacks = 2;

// Runs fn(0) .. fn(n - 1) on n threads (fn(0) on the caller) and joins them.
void RunOnThreads(std::size_t n, const std::function<void(int)>& fn) {
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < n; ++t) threads.emplace_back(fn, static_cast<int>(t));
  if (n > 0) fn(0);
  for (auto& t : threads) t.join();
}

// Executes jobs through the archive layer (fls/archive.h): one object per
// source file; restore, verify and repair per object name.
class ArchiveExecutor : public JobExecutor {
 public:
  ArchiveExecutor(StoreConfig config, std::unique_ptr<Store> store, MatrixKind matrix)
      : config_(std::move(config)), store_(std::move(store)), matrix_(matrix) {
    backend_ = config_.backend == "auto" ? ResolveAutoBackend() : config_.backend;
    // Dead writers' temporaries are removed beside the first jobs, not
    // before them, and at most every 10 minutes per target (each worker
    // builds an executor; listing millions of files takes seconds).
    cleanup_ = std::thread([this] {
      std::vector<std::string> removed, warnings;
      store_->RemoveStaleTemporariesThrottled(&removed, &warnings);
      for (const auto& w : warnings) spdlog::warn("store: {}", w);
      if (!removed.empty())
        spdlog::info("store: removed {} stale temporary file(s)", removed.size());
    });
  }
  ~ArchiveExecutor() override {
    if (cleanup_.joinable()) cleanup_.join();
  }

  Status Execute(const Job& job, JobContext& ctx) override {
    switch (job.kind) {
      case JobKind::kArchive:
        return Archive(job, ctx);
      case JobKind::kRestore:
        return Restore(job, ctx);
      case JobKind::kVerify:
      case JobKind::kRepair:
        return VerifyOrRepair(job, ctx);
      case JobKind::kStats:
        return StoreStats(ctx);
      case JobKind::kDelete:
        return Delete(job, ctx);
      case JobKind::kCompact:
        return Compact(job, ctx);
    }
    return Status::InvalidArgument("job kind " + std::to_string(static_cast<int>(job.kind)) +
                                   " is out of range");
  }

  std::string backend() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return backend_;
  }

 private:
  Status Archive(const Job& job, JobContext& ctx) {
    const ArchiveSpec& spec = std::get<ArchiveSpec>(job.spec);
    const std::string prefix = spec.name_prefix.value_or("");
    ArchiveOptions o;
    o.k = spec.k.value_or(config_.k);
    o.m = spec.m.value_or(config_.m);
    o.matrix = matrix_;
    o.stripe_width = config_.stripe_bytes;
    o.backend = config_.backend;
    o.compare_checksum = spec.checksum.value_or(false);
    if (spec.retain_until)
      FLS_RETURN_IF_ERROR(ParseTimeText(*spec.retain_until, &o.retain_until_ns));
    std::shared_ptr<BatchingBackend> batcher;
    FLS_RETURN_IF_ERROR(BatcherFor(o.k, o.m, &batcher));
    o.backend_instance = batcher;
    const BatchingBackend::Stats before = batcher->stats();
    // Every source is opened below its root's descriptor (confined_io.h);
    // one that became a link, a FIFO or a second hard link since SUBMIT
    // fails as an item, here or when it is opened.
    RootDirs sources(store_->env(), job.source_roots, "source");
    std::vector<std::string> small, large;
    std::vector<std::uint64_t> small_sizes;
    for (const std::string& path : job.items) {
      FileInfo info;
      Status st = sources.StatSource(path, &info);
      if (!st.ok()) {
        ctx.ItemDone(path, st, nullptr, 0);
        continue;
      }
      if (info.size < config_.small_file_bytes) {
        small.push_back(path);
        small_sizes.push_back(info.size);
      } else {
        large.push_back(path);
      }
    }
    Status s;
    if (!small.empty()) s = ArchivePacked(small, small_sizes, prefix, o, sources, *batcher, ctx);
    // Large files: several pipelines at once over the one coalescing backend,
    // so that their stripe batches share backend calls.
    std::atomic<std::size_t> next{0};
    std::atomic<bool> cancelled{false};
    auto run = [&](int) {
      for (std::size_t i = next++; i < large.size(); i = next++) {
        if (ctx.Cancelled()) {
          cancelled = true;
          return;
        }
        ArchiveOne(large[i], prefix, o, sources, *batcher, ctx);
      }
    };
    if (s.ok())
      RunOnThreads(std::min<std::size_t>(large.size(), config_.batch_files_in_flight), run);
    RecordBatching(before, batcher->stats());
    FLS_RETURN_IF_ERROR(s);
    if (cancelled) return Status::Cancelled("archive job cancelled");
    return Status::Ok();
  }

  // One large file as its own object; reports the item.
  void ArchiveOne(const std::string& path, const std::string& prefix, ArchiveOptions o,
                  RootDirs& sources, BatchingBackend& batcher, JobContext& ctx) {
    o.name = ArchiveObjectName(prefix, path);
    std::unique_ptr<RandomAccessFile> src;
    FileInfo info;
    Status s = sources.OpenSource(path, &src, &info);
    ArchiveResult r;
    if (s.ok()) {
      BatchingBackend::Participant participant = batcher.Join();
      o.encode_done = [&participant] { participant.Release(); };
      s = ArchiveOpenFile(*store_, *src, info, o, &r);
      participant.Release();
    }
    nlohmann::json result;
    std::uint64_t bytes = 0;
    if (s.ok() && r.unchanged) {
      // Archived before (a job resumed after kill -9, or the same file
      // again): the archive layer's quick check found it unchanged.
      result = {{"object", o.name},
                {"size", r.manifest.size},
                {"sha256", r.manifest.sha256},
                {"already_archived", true},
                {"unchanged", true}};
    } else if (s.ok()) {
      SetBackend(r.backend);
      bytes = r.manifest.size;
      result = {{"object", o.name},
                {"size", r.manifest.size},
                {"sha256", r.manifest.sha256},
                {"backend", r.backend},
                {"targets_tolerated", r.target_failures_tolerated},
                {"domains_tolerated", r.domain_failures_tolerated}};
    }
    ctx.ItemDone(path, s, result, bytes);
  }

  // The worker's coalescing backend for k + m (built on first use, kept for
  // later jobs): every pipeline of a job codes through it.
  Status BatcherFor(int k, int m, std::shared_ptr<BatchingBackend>* out) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& b = batchers_[{k, m}];
    if (!b) {
      std::unique_ptr<Backend> inner;
      FLS_RETURN_IF_ERROR(MakeBackend(config_.backend, 0, k, m, matrix_, &inner));
      BatchLimits limits;
      limits.max_bytes = config_.batch_max_bytes;
      limits.max_latency_ms = config_.batch_max_latency_ms;
      b = std::make_shared<BatchingBackend>(std::shared_ptr<Backend>(std::move(inner)), limits);
    }
    *out = b;
    return Status::Ok();
  }

  void RecordBatching(const BatchingBackend::Stats& before, const BatchingBackend::Stats& after) {
    std::lock_guard<std::mutex> lock(mu_);
    batching_ = {{"backend_calls", after.calls - before.calls},
                 {"requests", after.requests - before.requests},
                 {"stripes", after.stripes - before.stripes},
                 {"bytes", after.bytes - before.bytes}};
  }

  nlohmann::json TakeBatchingStats() override {
    std::lock_guard<std::mutex> lock(mu_);
    nlohmann::json out = std::move(batching_);
    batching_ = nlohmann::json();
    return out;
  }

  // Small files: packed (fls/pack.h) into packs of up to pack_bytes and
  // batch_max_files files, each pack one archived object, so that one
  // backend pipeline run and one set of fsyncs serve many files.
  Status ArchivePacked(const std::vector<std::string>& paths,
                       const std::vector<std::uint64_t>& sizes, const std::string& prefix,
                       const ArchiveOptions& o, RootDirs& sources, BatchingBackend& batcher,
                       JobContext& ctx) {
    const OpenSourceFn open = [&sources](const std::string& path,
                                         std::unique_ptr<RandomAccessFile>* f, FileInfo* info) {
      return sources.OpenSource(path, f, info);
    };
    std::vector<PackInput> files;
    for (std::size_t i = 0; i < paths.size(); ++i)
      files.push_back({ArchiveObjectName(prefix, paths[i]), paths[i], sizes[i]});
    PackOptions po;
    po.max_bytes = config_.pack_bytes;
    po.max_files = static_cast<std::size_t>(std::max(1, config_.batch_max_files));
    po.concurrent_packs = kConcurrentPacks;
    po.cancelled = [&ctx] { return ctx.Cancelled(); };
    po.start_pack = [&batcher]() -> std::function<void()> {
      auto participant = std::make_shared<BatchingBackend::Participant>(batcher.Join());
      return [participant] { participant->Release(); };
    };
    return ArchiveSmallFiles(
        *store_, open, files, o, po, [&](std::size_t i, const PackedItem& item) {
          nlohmann::json result;
          if (item.status.ok() && item.unchanged) {
            // Archived before (a resumed job, or the same file again).
            result = {{"object", files[i].name},
                      {"size", item.entry.length},
                      {"sha256", item.entry.sha256},
                      {"already_archived", true},
                      {"unchanged", true}};
            if (item.member) result["pack"] = item.entry.pack;
          } else if (item.status.ok()) {
            SetBackend(item.backend);
            result = {{"object", files[i].name},     {"pack", item.entry.pack},
                      {"offset", item.entry.offset}, {"size", item.entry.length},
                      {"sha256", item.entry.sha256}, {"backend", item.backend}};
          }
          ctx.ItemDone(paths[i], item.status, result,
                       item.status.ok() && !item.unchanged ? item.entry.length : 0);
        });
  }

  Status Restore(const Job& job, JobContext& ctx) {
    return RunRestoreJob(*store_, config_.backend, job, ctx);
  }

  // A repair of everything is a sweep (fls/sweep.h): batched reconstruction
  // across objects, resumable through the health database named in the spec.
  // Each object is reported as an item when its window is done.
  Status Sweep(const Job& job, JobContext& ctx) {
    const RepairSpec& spec = std::get<RepairSpec>(job.spec);
    const SweepSpec sw = spec.sweep.value_or(SweepSpec());
    SweepOptions o;
    o.backend = config_.backend;
    o.verify_only = sw.verify_only.value_or(false);
    o.deep = sw.deep.value_or(false);
    o.rate_bytes_per_s = sw.rate_bytes_per_s.value_or(0);
    std::unique_ptr<HealthDb> db;
    const std::string db_path = spec.health_db.value_or("");
    if (!db_path.empty()) FLS_RETURN_IF_ERROR(HealthDb::Open(db_path, &db));
    o.db = db.get();
    o.cancelled = [&ctx] { return ctx.Cancelled(); };
    o.on_object = [&](const std::string& name, Health scanned, bool rebuilt,
                      const std::string& error, std::uint64_t bytes) {
      Status s;
      if (scanned == Health::kUnrecoverable)
        s = Status::Unrecoverable("object '" + name + "' has a stripe with more than m bad blocks");
      else if (!error.empty())
        s = Status::IOError(error);
      else if (o.verify_only && scanned == Health::kDegraded)
        s = Status::Corruption("object '" + name + "' is degraded");
      ctx.ItemDone(name, s, {{"health_before", HealthName(scanned)}, {"rebuilt", rebuilt}}, bytes);
    };
    SweepReport r;
    FLS_RETURN_IF_ERROR(RunSweep(*store_, o, &r));
    if (r.cancelled) return Status::Cancelled("repair sweep cancelled");
    return Status::Ok();
  }

  Status VerifyOrRepair(const Job& job, JobContext& ctx) {
    const bool repair = job.kind == JobKind::kRepair;
    // Without `objects` the job covers every object (a repair: a sweep).
    const bool everything = repair ? !std::get<RepairSpec>(job.spec).objects.has_value()
                                   : !std::get<VerifySpec>(job.spec).objects.has_value();
    if (repair && job.items.empty() && everything) return Sweep(job, ctx);
    std::vector<CatalogEntry> entries;
    // Object checked -> the item names it answers for (a pack answers for
    // every requested file packed in it).
    std::map<std::string, std::vector<std::string>> answers;
    if (job.items.empty() && everything) {
      // Every object: checked as the catalogue walk streams them.
      Status status;
      CatalogWalk walk;
      store_->WalkCatalog(
          [&](CatalogEntry& e) {
            if (ctx.Cancelled()) {
              status = Status::Cancelled(std::string(JobKindName(job.kind)) + " job cancelled");
              return false;
            }
            CheckOne(job, repair, e, {e.manifest.name}, ctx);
            return true;
          },
          &walk);
      FLS_RETURN_IF_ERROR(status);
      for (const UnreadableObject& u : walk.unreadable)
        ctx.ItemDone(u.name.empty() ? "name hash " + u.hash : u.name,
                     Status::Unrecoverable("every manifest copy is unreadable"),
                     {{"paths", u.paths}, {"problems", u.problems}}, 0);
      return Status::Ok();
    } else {
      std::set<std::string> seen;
      for (const std::string& name : job.items) {
        // A packed file is checked (or healed) through its pack.
        Located found;
        Status s = LocateName(*store_, name, &found);
        if (!s.ok()) {
          ctx.ItemDone(name, s, nullptr, 0);
          continue;
        }
        const std::string& object = found.object.manifest.name;
        answers[object].push_back(name);
        if (seen.insert(object).second) entries.push_back(std::move(found.object));
      }
    }
    for (const CatalogEntry& e : entries) {
      if (ctx.Cancelled())
        return Status::Cancelled(std::string(JobKindName(job.kind)) + " job cancelled");
      CheckOne(job, repair, e, answers[e.manifest.name], ctx);
    }
    return Status::Ok();
  }

  // Verifies or repairs one object and reports it for each item name it
  // answers for.
  void CheckOne(const Job& job, bool repair, const CatalogEntry& e,
                const std::vector<std::string>& names, JobContext& ctx) {
    const std::string& name = e.manifest.name;
    nlohmann::json result;
    Status s;
    if (repair) {
      RepairOptions o;
      o.backend = config_.backend;
      RepairResult r;
      s = RepairObject(*store_, e, o, &r);
      if (s.ok())
        result = {{"health_before", HealthName(r.before.health)},
                  {"rebuilt", r.rebuilt},
                  {"new_paths", r.new_paths},
                  {"manifest_rewritten", r.manifest_rewritten}};
    } else {
      VerifyOptions o;
      o.deep = std::get<VerifySpec>(job.spec).deep.value_or(false);
      o.backend = config_.backend;
      ObjectReport r;
      s = VerifyObject(*store_, e, o, &r);
      if (s.ok()) {
        result = {{"health", HealthName(r.health)}, {"notes", r.notes}, {"deep", r.deep}};
        if (r.health != Health::kHealthy) {
          std::string why = HealthName(r.health);
          for (const auto& n : r.notes) why += "; " + n;
          s = r.health == Health::kDegraded ? Status::Corruption(why) : Status::Unrecoverable(why);
        }
      }
    }
    if (IsPackName(name)) result["pack"] = name;
    for (std::size_t i = 0; i < names.size(); ++i)
      ctx.ItemDone(names[i], s, result, s.ok() && i == 0 ? e.manifest.size : 0);
  }

  // Each name is an item (one under retention fails as its item).
  Status Delete(const Job& job, JobContext& ctx) {
    const DeleteSpec& spec = std::get<DeleteSpec>(job.spec);
    DeleteOptions o;
    o.force = spec.force.value_or(false);
    o.override_retention = spec.override_retention.value_or(false);
    return DeleteNames(*store_, job.items, o, 60000,
                       [&](std::size_t, const Status& s, const DeleteResult& r) {
                         if (r.retention_overridden)
                           spdlog::warn("job {}: RETENTION OVERRIDDEN: '{}' was retained until {}",
                                        job.id, r.name, FormatTimeNs(r.retain_until_ns));
                         nlohmann::json result = {{"existed", r.existed},
                                                  {"packed", r.member},
                                                  {"size", r.size},
                                                  {"finished", r.finished},
                                                  {"retained", r.retained}};
                         ctx.ItemDone(r.name, s, result, 0);
                       });
  }

  Status Compact(const Job& job, JobContext& ctx) {
    const CompactSpec& spec = std::get<CompactSpec>(job.spec);
    CompactOptions o;
    o.min_dead = spec.min_dead_percent.value_or(50) / 100;
    o.lock_wait_ms = 60000;
    o.min_age_ns = static_cast<std::int64_t>(spec.min_age_seconds.value_or(600) * 1e9);
    o.archive.backend = config_.backend;
    o.archive.stripe_width = config_.stripe_bytes;
    CompactReport r;
    FLS_RETURN_IF_ERROR(CompactStore(*store_, o, &r));
    Status s = r.failures.empty() ? Status::Ok()
                                  : Status::IOError(std::to_string(r.failures.size()) +
                                                    " pack(s) not compacted: " + r.failures[0]);
    ctx.ItemDone("store", s,
                 {{"packs", r.packs},
                  {"packs_rewritten", r.packs_rewritten},
                  {"packs_removed", r.packs_removed},
                  {"files_moved", r.files_moved},
                  {"dead_bytes", r.dead_bytes},
                  {"dead_bytes_reclaimed", r.dead_bytes_reclaimed},
                  {"warnings", r.warnings}},
                 r.bytes_moved);
    return Status::Ok();
  }

  Status StoreStats(JobContext& ctx) {
    std::uint64_t objects = 0, bytes = 0;
    CatalogWalk walk;
    store_->WalkCatalog(
        [&](CatalogEntry& e) {
          ++objects;
          bytes += e.manifest.size;
          return true;
        },
        &walk);
    std::vector<std::string> warnings = walk.warnings;
    for (const UnreadableObject& u : walk.unreadable)
      warnings.push_back("every manifest copy of " +
                         (u.name.empty() ? "name hash " + u.hash : "'" + u.name + "'") +
                         " is unreadable");
    ctx.ItemDone("store", Status::Ok(),
                 {{"objects", objects},
                  {"bytes", bytes},
                  {"targets", store_->targets().size()},
                  {"unreadable", walk.unreadable.size()},
                  {"warnings", warnings}},
                 0);
    return Status::Ok();
  }

  void SetBackend(const std::string& b) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!b.empty()) backend_ = b;
  }

  StoreConfig config_;
  std::unique_ptr<Store> store_;
  std::map<std::pair<int, int>, std::shared_ptr<BatchingBackend>> batchers_;  // by (k, m)
  nlohmann::json batching_;  // of the last archive job, until taken
  MatrixKind matrix_;
  mutable std::mutex mu_;
  std::string backend_;
  std::thread cleanup_;  // the start-up removal of stale temporaries
};

}  // namespace

Status CreateDefaultExecutor(const StoreConfig& config, std::unique_ptr<JobExecutor>* executor) {
  std::vector<Target> targets;
  for (const auto& t : config.targets) {
    FLS_RETURN_IF_ERROR(Env::Default()->CreateDirs(t.path).WithContext("store target"));
    targets.push_back({t.path, t.domain});
  }
  std::unique_ptr<Store> store;
  FLS_RETURN_IF_ERROR(Store::FromTargets(Env::Default(), std::move(targets), &store));
  // The service writes: its targets join the store now, once.
  FLS_RETURN_IF_ERROR(store->Join());
  MatrixKind matrix;
  FLS_RETURN_IF_ERROR(ParseMatrixKind(config.matrix, &matrix));
  *executor = std::make_unique<ArchiveExecutor>(config, std::move(store), matrix);
  return Status::Ok();
}

std::string ArchiveObjectName(const std::string& name_prefix, const std::string& resolved_path) {
  std::size_t i = 0;
  while (i < resolved_path.size() && resolved_path[i] == '/') ++i;
  return name_prefix + resolved_path.substr(i);
}

}  // namespace fls::service
