#include "fls/service/job_executor.h"

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "fls/archive.h"
#include "fls/backend_registry.h"
#include "fls/batching_backend.h"
#include "fls/env.h"
#include "fls/health_db.h"
#include "fls/sha256.h"
#include "fls/store.h"
#include "fls/sweep.h"
#include "confined_io.h"
#include "pack.h"
#include "restore_job.h"

namespace fls::service {
namespace {

constexpr std::size_t kConcurrentPacks = 2;

std::string RandomHex() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

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
    const std::string prefix = job.spec.value("name_prefix", std::string());
    ArchiveOptions o;
    o.k = job.spec.value("k", config_.k);
    o.m = job.spec.value("m", config_.m);
    o.matrix = matrix_;
    o.stripe_width = config_.stripe_bytes;
    o.backend = config_.backend;
    o.compare_checksum = job.spec.value("checksum", false);
    std::shared_ptr<BatchingBackend> batcher;
    FLS_RETURN_IF_ERROR(BatcherFor(o.k, o.m, &batcher));
    o.backend_instance = batcher;
    const BatchingBackend::Stats before = batcher->stats();
    // Every source is opened below its root's descriptor (confined_io.h);
    // one that became a link, a FIFO or a second hard link since SUBMIT
    // fails as an item, here or when it is opened.
    RootDirs sources(store_->env(), job.source_roots, "source");
    std::vector<std::string> small, large;
    for (const std::string& path : job.items) {
      FileInfo info;
      Status st = sources.StatSource(path, &info);
      if (!st.ok()) {
        ctx.ItemDone(path, st, nullptr, 0);
        continue;
      }
      (info.size < config_.small_file_bytes ? small : large).push_back(path);
    }
    Status s;
    if (!small.empty()) s = ArchivePacked(small, prefix, o, sources, *batcher, ctx);
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

  // Small files: concatenated into packs (service/pack.h) of up to
  // pack_bytes and batch_max_files files, each pack one archived object, so
  // that one backend pipeline run and one set of fsyncs serve many files.
  Status ArchivePacked(const std::vector<std::string>& paths, const std::string& prefix,
                       ArchiveOptions o, RootDirs& sources, BatchingBackend& batcher,
                       JobContext& ctx) {
    std::unique_ptr<ScratchDir> scratch;
    FLS_RETURN_IF_ERROR(ScratchDir::Create(store_->env(), &scratch));
    PackDirectory& packed = packs_;
    FLS_RETURN_IF_ERROR(packed.Refresh(*store_, scratch->dir()));
    const OpenSourceFn open = [&sources](const std::string& path,
                                         std::unique_ptr<RandomAccessFile>* f, FileInfo* info) {
      return sources.OpenSource(path, f, info);
    };
    struct Group {
      std::vector<std::string> paths, names;
      std::uint64_t bytes = 0;
    };
    std::vector<Group> groups;
    for (const std::string& path : paths) {
      const std::string name = ArchiveObjectName(prefix, path);
      // A bad name goes no further than its own item: it would reach the
      // pack's index and the member's records.
      if (Status bad = ValidateObjectName(name); !bad.ok()) {
        ctx.ItemDone(path, bad.WithContext(path), nullptr, 0);
        continue;
      }
      std::unique_ptr<RandomAccessFile> src;
      FileInfo info;
      Status s = sources.OpenSource(path, &src, &info);
      if (!s.ok()) {
        ctx.ItemDone(path, s, nullptr, 0);
        continue;
      }
      if (const PackEntry* e = packed.Find(name)) {
        // Packed before (a resumed job, or the same file again): unchanged
        // when it passes the quick check; another file of that name is an error.
        s = CheckPacked(*src, info, name, *e, o.compare_checksum);
        ctx.ItemDone(path, s,
                     s.ok() ? nlohmann::json{{"object", name},
                                             {"pack", e->pack},
                                             {"size", e->length},
                                             {"sha256", e->sha256},
                                             {"already_archived", true},
                                             {"unchanged", true}}
                            : nlohmann::json(),
                     0);
        continue;
      }
      const std::uint64_t size = info.size;
      if (groups.empty() ||
          (!groups.back().paths.empty() &&
           (groups.back().bytes + size > config_.pack_bytes ||
            groups.back().paths.size() >= static_cast<std::size_t>(config_.batch_max_files))))
        groups.emplace_back();
      groups.back().paths.push_back(path);
      groups.back().names.push_back(name);
      groups.back().bytes += size;
    }
    // Packs are independent objects: two at a time, so that reading and
    // hashing the files of one overlaps coding and fsyncing the other.
    std::mutex mu;  // guards `packed`
    std::atomic<std::size_t> next{0};
    std::atomic<bool> cancelled{false};
    auto run = [&](int slot) {
      const std::string pack_name = "pack-" + std::to_string(slot);
      for (std::size_t g = next++; g < groups.size(); g = next++) {
        if (ctx.Cancelled()) {
          cancelled = true;
          return;
        }
        const Group& group = groups[g];
        std::vector<PackEntry> entries;
        std::vector<Status> errors;
        Status s = WritePackFile(open, group.paths, group.names, scratch->dir(), pack_name,
                                 &entries, &errors);
        ArchiveResult r;
        ArchiveOptions po = o;
        po.name = kPackPrefix + RandomHex();
        if (s.ok()) {
          std::unique_ptr<RandomAccessFile> pack;
          FileInfo info;
          s = scratch->dir()->NewRandomAccessFile(pack_name, &pack, &info);
          BatchingBackend::Participant participant = batcher.Join();
          po.encode_done = [&participant] { participant.Release(); };
          if (s.ok()) s = ArchiveOpenFile(*store_, *pack, info, po, &r);
        }
        scratch->dir()->RemoveFile(pack_name);
        if (s.ok()) {
          SetBackend(r.backend);
          std::lock_guard<std::mutex> lock(mu);
          for (std::size_t i = 0; i < entries.size(); ++i) {
            entries[i].pack = po.name;
            if (errors[i].ok()) packed.Add(entries[i]);
          }
        }
        for (std::size_t i = 0; i < group.paths.size(); ++i) {
          const Status item = s.ok() ? errors[i] : s;
          nlohmann::json result;
          if (item.ok())
            result = {{"object", group.names[i]},    {"pack", po.name},
                      {"offset", entries[i].offset}, {"size", entries[i].length},
                      {"sha256", entries[i].sha256}, {"backend", r.backend}};
          ctx.ItemDone(group.paths[i], item, result, item.ok() ? entries[i].length : 0);
        }
      }
    };
    RunOnThreads(std::min<std::size_t>(groups.size(), kConcurrentPacks), run);
    if (cancelled) return Status::Cancelled("archive job cancelled");
    return Status::Ok();
  }

  // The archive layer's quick check (ArchiveOpenFile) for a packed file:
  // size, mtime and mode as packed, or its SHA-256 with `checksum`, all from
  // `src` as opened below its source root (never its path again).
  Status CheckPacked(const RandomAccessFile& src, const FileInfo& info, const std::string& name,
                     const PackEntry& e, bool checksum) {
    bool same = info.size == e.length;
    if (same && checksum) {
      std::string sha;
      FLS_RETURN_IF_ERROR(Sha256OfFile(src, &sha));
      same = sha == e.sha256;
    } else if (same) {
      same = info.mtime_ns == e.mtime_ns && info.mode == e.mode;
    }
    if (same) return Status::Ok();
    return Status::InvalidArgument("'" + name + "' is already archived with other content (in " +
                                   e.pack + "); archive it under another name");
  }

  Status Restore(const Job& job, JobContext& ctx) {
    return RunRestoreJob(*store_, config_.backend, &packs_, job, ctx);
  }

  // A repair of everything is a sweep (fls/sweep.h): batched reconstruction
  // across objects, resumable through the health database named in the spec.
  // Each object is reported as an item when its window is done.
  Status Sweep(const Job& job, JobContext& ctx) {
    const nlohmann::json sw = job.spec.value("sweep", nlohmann::json::object());
    SweepOptions o;
    o.backend = config_.backend;
    o.verify_only = sw.value("verify_only", false);
    o.deep = sw.value("deep", false);
    o.rate_bytes_per_s = sw.value("rate_bytes_per_s", std::uint64_t{0});
    std::unique_ptr<HealthDb> db;
    const std::string db_path = job.spec.value("health_db", std::string());
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
    if (repair && job.items.empty() && !job.spec.contains("objects")) return Sweep(job, ctx);
    std::vector<CatalogEntry> entries;
    // Object checked -> the item names it answers for (a pack answers for
    // every requested file packed in it).
    std::map<std::string, std::vector<std::string>> answers;
    if (job.items.empty() && !job.spec.contains("objects")) {
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
      std::unique_ptr<ScratchDir> scratch;
      FLS_RETURN_IF_ERROR(ScratchDir::Create(store_->env(), &scratch));
      PackDirectory& packed = packs_;
      FLS_RETURN_IF_ERROR(packed.Refresh(*store_, scratch->dir()));
      std::set<std::string> seen;
      for (const std::string& name : job.items) {
        // A packed file is checked (or healed) through its pack.
        const PackEntry* pe = packed.Find(name);
        const std::string object = pe ? pe->pack : name;
        answers[object].push_back(name);
        if (!seen.insert(object).second) continue;
        CatalogEntry e;
        Status s = store_->FindObject(object, &e);
        if (s.ok())
          entries.push_back(std::move(e));
        else
          ctx.ItemDone(name, s, nullptr, 0);
      }
    }
    for (const CatalogEntry& e : entries) {
      if (ctx.Cancelled()) return Status::Cancelled(std::string(JobKindName(job.kind)) + " job cancelled");
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
      o.deep = job.spec.value("deep", false);
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
    if (name.rfind(kPackPrefix, 0) == 0) result["pack"] = name;
    for (std::size_t i = 0; i < names.size(); ++i)
      ctx.ItemDone(names[i], s, result, s.ok() && i == 0 ? e.manifest.size : 0);
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
  PackDirectory packs_;  // packed files seen so far; refreshed per job
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
  // Temporaries of a killed service or CLI go before this worker writes its
  // own (a live writer's, this process's included, are kept).
  std::vector<std::string> removed, warnings;
  store->RemoveStaleTemporaries(&removed, &warnings);
  for (const auto& w : warnings) spdlog::warn("store: {}", w);
  if (!removed.empty()) spdlog::info("store: removed {} stale temporary file(s)", removed.size());
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
