#include "service/job_executor.h"

#include <filesystem>
#include <mutex>

#include "fls/archive.h"
#include "fls/backend_registry.h"
#include "fls/env.h"
#include "fls/store.h"

namespace fls::service {
namespace {

// Executes jobs through the archive layer (fls/archive.h): one object per
// source file; restore, verify and repair per object name.
class ArchiveExecutor : public JobExecutor {
 public:
  ArchiveExecutor(StoreConfig config, std::unique_ptr<Store> store, MatrixKind matrix)
      : config_(std::move(config)), store_(std::move(store)), matrix_(matrix) {
    backend_ = config_.backend == "auto" ? ResolveAutoBackend() : config_.backend;
  }

  Status Execute(const Job& job, JobContext& ctx) override {
    if (job.kind == "archive") return Archive(job, ctx);
    if (job.kind == "restore") return Restore(job, ctx);
    if (job.kind == "verify" || job.kind == "repair") return VerifyOrRepair(job, ctx);
    if (job.kind == "stats") return StoreStats(ctx);
    return Status::InvalidArgument("unknown job kind '" + job.kind + "'");
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
    for (const std::string& path : job.items) {
      if (ctx.Cancelled()) return Status::Cancelled("archive job cancelled");
      o.name = ArchiveObjectName(prefix, path);
      ArchiveResult r;
      Status s = ArchiveFile(*store_, path, o, &r);
      nlohmann::json result;
      std::uint64_t bytes = 0;
      if (s.ok()) {
        SetBackend(r.backend);
        bytes = r.manifest.size;
        result = {{"object", o.name},
                  {"size", r.manifest.size},
                  {"sha256", r.manifest.sha256},
                  {"backend", r.backend},
                  {"targets_tolerated", r.target_failures_tolerated},
                  {"domains_tolerated", r.domain_failures_tolerated}};
      } else if (s.code() == Status::Code::kInvalidArgument) {
        // Re-running a job that was cut short (kill -9, a dead worker): the
        // manifest is the commit point, so an object of that name with the
        // same bytes means this file was archived before: done, not again.
        CatalogEntry e;
        std::string sha;
        if (store_->FindObject(o.name, &e).ok() && Sha256File(store_->env(), path, &sha).ok() &&
            sha == e.manifest.sha256) {
          s = Status::Ok();
          bytes = 0;
          result = {{"object", o.name},
                    {"size", e.manifest.size},
                    {"sha256", sha},
                    {"already_archived", true}};
        }
      }
      ctx.ItemDone(path, s, result, bytes);
    }
    return Status::Ok();
  }

  Status Restore(const Job& job, JobContext& ctx) {
    const std::string out_dir = job.spec.value("output", std::string());
    if (out_dir.empty()) return Status::InvalidArgument("restore job without an output directory");
    RestoreOptions o;
    o.backend = config_.backend;
    for (const std::string& name : job.items) {
      if (ctx.Cancelled()) return Status::Cancelled("restore job cancelled");
      o.output = (std::filesystem::path(out_dir) / name).string();
      Status s = store_->env()->CreateDirs(std::filesystem::path(o.output).parent_path().string());
      RestoreResult r;
      if (s.ok()) s = RestoreObject(*store_, name, o, &r);
      nlohmann::json result;
      if (s.ok())
        result = {{"output", o.output},
                  {"bytes", r.bytes},
                  {"stripes_reconstructed", r.stripes_reconstructed},
                  {"problems", r.problems},
                  {"sha256_checked", r.sha256_checked}};
      ctx.ItemDone(name, s, result, s.ok() ? r.bytes : 0);
    }
    return Status::Ok();
  }

  Status VerifyOrRepair(const Job& job, JobContext& ctx) {
    const bool repair = job.kind == "repair";
    std::vector<CatalogEntry> entries;
    std::vector<std::string> missing;
    if (job.items.empty() && !job.spec.contains("objects")) {
      Catalog c = store_->ReadCatalog();
      entries = std::move(c.objects);
    } else {
      for (const std::string& name : job.items) {
        CatalogEntry e;
        Status s = store_->FindObject(name, &e);
        if (s.ok())
          entries.push_back(std::move(e));
        else
          ctx.ItemDone(name, s, nullptr, 0);
      }
    }
    for (const CatalogEntry& e : entries) {
      if (ctx.Cancelled()) return Status::Cancelled(job.kind + " job cancelled");
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
            s = r.health == Health::kDegraded ? Status::Corruption(why)
                                              : Status::Unrecoverable(why);
          }
        }
      }
      ctx.ItemDone(name, s, result, s.ok() ? e.manifest.size : 0);
    }
    return Status::Ok();
  }

  Status StoreStats(JobContext& ctx) {
    Catalog c = store_->ReadCatalog();
    std::uint64_t bytes = 0;
    for (const auto& e : c.objects) bytes += e.manifest.size;
    ctx.ItemDone("store", Status::Ok(),
                 {{"objects", c.objects.size()},
                  {"bytes", bytes},
                  {"targets", store_->targets().size()},
                  {"warnings", c.warnings}},
                 0);
    return Status::Ok();
  }

  void SetBackend(const std::string& b) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!b.empty()) backend_ = b;
  }

  StoreConfig config_;
  std::unique_ptr<Store> store_;
  MatrixKind matrix_;
  mutable std::mutex mu_;
  std::string backend_;
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
