// RunSweep (fls/sweep.h): the walk, the scan of each window and what is
// recorded; the rebuild of damaged objects is in sweep_repair.cc.
#include "fls/sweep.h"

#include "fls/compact.h"
#include "fls/delete.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>

#include "fls/archive.h"
#include "fls/health_db.h"
#include "fls/thread_pool.h"
#include "fls/unreferenced.h"
#include "leftovers.h"
#include "maintenance_lock.h"
#include "sweep_run.h"

namespace fls {
namespace internal {
namespace {

using Clock = std::chrono::steady_clock;

// Chunk bytes a verify of `r` read: every chunk whose file was there.
std::uint64_t BytesRead(const ObjectReport& r, const Manifest& mf) {
  std::uint64_t b = 0;
  for (const ChunkReport& c : r.chunks)
    if (c.state == "ok" || c.state == "damaged" || c.state == "truncated")
      b += mf.chunks[c.index].bytes;
  return b + (r.deep ? mf.size : 0);
}

}  // namespace

void SweepRun::Scan(std::vector<WindowObject>& window) {
  ThreadPool pool(std::max(1, opt_.readers));
  pool.Run(window.size(), [&](std::size_t i) {
    WindowObject& w = window[i];
    const Manifest& mf = w.entry->manifest;
    VerifyOptions vo;
    vo.deep = opt_.deep;
    vo.backend = opt_.backend;
    vo.threads = opt_.threads;
    // Charged as it goes so that a large object is paced too.
    std::uint64_t charged = 0;
    const int n = mf.k + mf.m;
    vo.progress = [&](std::uint64_t done, std::uint64_t) {
      const std::uint64_t chunk_bytes = done / mf.k * n;
      if (chunk_bytes > charged) limiter_.Charge(chunk_bytes - charged);
      charged = std::max(charged, chunk_bytes);
    };
    w.scan_status = VerifyObject(store_, *w.entry, vo, &w.report);
    w.recorded = mf;
    w.scanned = w.report.health;
    const std::uint64_t read = w.scan_status.ok() ? BytesRead(w.report, mf) : 0;
    w.bytes = read;
    if (read > charged) limiter_.Charge(read - charged);
    std::lock_guard<std::mutex> lock(mu_);
    report_->bytes_read += read;
    ++report_->objects_scanned;
    if (!w.scan_status.ok()) return;
    for (const ChunkReport& c : w.report.chunks)
      if (c.state != "ok") ++target_errors_[mf.chunks[c.index].target];
  });
}

void SweepRun::RecordTargets() {
  if (opt_.db == nullptr) return;
  std::vector<TargetHealth> out;
  Env* env = store_.env();
  for (const Target& t : store_.targets()) {
    TargetHealth h;
    ProbeTargetNow(env, t, &h);
    auto it = target_errors_.find(t.path);
    h.errors = it == target_errors_.end() ? 0 : it->second;
    out.push_back(h);
  }
  Status s = opt_.db->RecordTargets(out);
  if (!s.ok()) report_->warnings.push_back(s.ToString());
}

Status SweepRun::ProcessWindow(std::vector<CatalogEntry>& entries) {
  std::vector<WindowObject> window;
  for (const CatalogEntry& e : entries) {
    WindowObject w;
    w.entry = &e;
    window.push_back(std::move(w));
  }
  Scan(window);
  for (WindowObject& w : window) {
    if (!w.scan_status.ok()) return w.scan_status.WithContext(w.entry->manifest.name);
    switch (w.report.health) {
      case Health::kHealthy:
        ++report_->healthy;
        break;
      case Health::kDegraded:
        ++report_->damaged;
        break;
      case Health::kUnrecoverable:
        report_->unrecoverable.push_back(w.entry->manifest.name);
        break;
    }
  }
  if (!opt_.verify_only) FLS_RETURN_IF_ERROR(RepairWindow(window));
  if (opt_.on_object)
    for (const WindowObject& w : window)
      opt_.on_object(w.entry->manifest.name, w.scanned, w.rebuilt, w.repair_error, w.bytes);
  for (const WindowObject& w : window) refs_.Add(store_, w.recorded);
  if (opt_.db != nullptr) {
    std::vector<HealthDb::ObjectRecord> records;
    for (WindowObject& w : window) records.push_back({std::move(w.report), std::move(w.recorded)});
    FLS_RETURN_IF_ERROR(opt_.db->RecordObjects(records, report_->sweep_id));
  }
  entries.clear();
  SweepProgress progress;
  progress.objects_total = report_->objects_total;
  progress.objects_done = report_->objects_skipped + report_->objects_scanned;
  progress.bytes_read = report_->bytes_read;
  progress.damaged = report_->damaged;
  progress.rebuilt = report_->rebuilt;
  progress.unrecoverable = report_->unrecoverable.size();
  if (opt_.progress) opt_.progress(progress);
  return Status::Ok();
}

// One object from the walk (or named): its manifest leftovers cleared
// (repair sweeps), then queued for its window unless an interrupted run of
// this sweep already did it.
Status SweepRun::Take(CatalogEntry& e, std::vector<CatalogEntry>* pending) {
  if (!opt_.verify_only) {
    bool in_flux = false;
    if (internal::CleanManifestLeftovers(store_, e, &report_->cleaned, &report_->warnings,
                                         &in_flux)) {
      CatalogEntry again;
      FLS_RETURN_IF_ERROR(store_.FindObject(e.manifest.name, &again));
      e = std::move(again);
    }
  }
  const std::string id = ObjectIdToHex(e.manifest.id);
  live_.insert(id);
  if (done_.count(id)) {
    ++report_->objects_skipped;
    refs_.Add(store_, e.manifest);
    return Status::Ok();
  }
  pending->push_back(std::move(e));
  if (pending->size() >= std::max<std::size_t>(1, opt_.window)) return ProcessWindow(*pending);
  return Status::Ok();
}

// After a walk of the whole store: chunk files no manifest names. A repair
// sweep removes the leftovers whose placed copy checks out; the rest (and
// every orphan) old enough not to be a writer's work in progress is reported.
void SweepRun::CheckUnreferenced() {
  refs_.Finish();
  std::vector<UnreferencedChunk> found;
  FindUnreferencedChunks(store_, refs_, 0, &found, &report_->warnings);
  std::vector<std::string> removed;
  if (!opt_.verify_only)
    internal::RemoveLeftoverChunks(store_, refs_, found, &removed, &report_->warnings);
  const std::set<std::string> gone(removed.begin(), removed.end());
  report_->cleaned.insert(report_->cleaned.end(), removed.begin(), removed.end());
  const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  for (UnreferencedChunk& u : found) {
    if (gone.count(u.path)) continue;
    FileInfo info;
    if (!store_.env()->GetFileInfo(u.path, &info).ok()) continue;
    if (now_ns - info.mtime_ns < opt_.unreferenced_min_age_ns) continue;
    report_->unreferenced.push_back(std::move(u));
  }
}

// Repair sweeps of the whole store, before the walk: the files deletes
// left behind (fls/delete.h) go, then packs with no live file left (a
// compaction killed after moving their files; fls/compact.h), so that
// neither is walked nor reported as orphans.
void SweepRun::FinishDeletesAndDeadPacks() {
  FinishReport finished;
  FinishDeletions(store_, &finished);
  report_->deletes_finished = finished.finished;
  report_->warnings.insert(report_->warnings.end(), finished.warnings.begin(),
                           finished.warnings.end());
  CompactOptions dead_only;
  dead_only.min_dead = 1.0;
  dead_only.rewrite_pre_record_packs = false;
  dead_only.min_age_ns = opt_.dead_pack_min_age_ns;
  dead_only.archive.backend = opt_.backend;
  CompactReport compacted;
  internal::CompactPacks(store_, dead_only, &compacted);
  report_->dead_packs_removed = compacted.packs_removed;
  for (const auto& list : {compacted.warnings, compacted.failures})
    report_->warnings.insert(report_->warnings.end(), list.begin(), list.end());
}

Status SweepRun::Run() {
  const auto start = Clock::now();
  // A repair sweep commits manifests and removes superseded files: it holds
  // the store's maintenance lock (rebalancing takes it too) and first clears
  // what interrupted runs, a killed sweep's among them, left behind.
  std::unique_ptr<internal::MaintenanceLock> lock;
  if (!opt_.verify_only) {
    FLS_RETURN_IF_ERROR(internal::MaintenanceLock::Acquire(store_, "repair sweep", &lock));
    FLS_RETURN_IF_ERROR(store_.Join());
    store_.RemoveStaleTemporaries(&report_->cleaned, &report_->warnings);
    if (opt_.names.empty()) FinishDeletesAndDeadPacks();
  }
  // Named objects are looked up (after the lock: no other run is mid-commit).
  std::vector<CatalogEntry> named;
  for (const std::string& name : opt_.names) {
    CatalogEntry e;
    FLS_RETURN_IF_ERROR(store_.FindObject(name, &e));
    named.push_back(std::move(e));
  }
  if (opt_.db != nullptr)
    FLS_RETURN_IF_ERROR(opt_.db->BeginSweep(SweepMode(opt_), opt_.resume, &report_->sweep_id,
                                            &report_->resumed, &done_));
  std::vector<CatalogEntry> pending;
  Status status;
  auto take = [&](CatalogEntry& e) {
    if (opt_.cancelled && opt_.cancelled()) {
      report_->cancelled = true;
      return false;
    }
    status = Take(e, &pending);
    return status.ok();
  };
  if (!opt_.names.empty()) {
    report_->objects_total = named.size();
    for (CatalogEntry& e : named)
      if (!take(e)) break;
  } else {
    CatalogWalk walk;
    store_.WalkCatalog(take, &walk, [&](std::uint64_t n) { report_->objects_total = n; });
    report_->warnings.insert(report_->warnings.end(), walk.warnings.begin(), walk.warnings.end());
    report_->unreadable_objects = std::move(walk.unreadable);
  }
  FLS_RETURN_IF_ERROR(status);
  if (!pending.empty() && !report_->cancelled) FLS_RETURN_IF_ERROR(ProcessWindow(pending));
  if (opt_.names.empty() && !report_->cancelled) CheckUnreferenced();
  RecordTargets();
  report_->seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (opt_.db != nullptr && !report_->cancelled) {
    if (opt_.names.empty()) FLS_RETURN_IF_ERROR(opt_.db->ForgetObjectsExcept(live_));
    FLS_RETURN_IF_ERROR(opt_.db->FinishSweep(report_->sweep_id, ""));
  }
  return Status::Ok();
}

}  // namespace internal

std::string SweepMode(const SweepOptions& o) {
  return std::string(o.verify_only ? "verify" : "repair") + (o.deep ? "-deep" : "");
}

Status RunSweep(const Store& store, const SweepOptions& options, SweepReport* report) {
  *report = SweepReport{};
  internal::SweepRun run(store, options, report);
  return run.Run();
}

}  // namespace fls
