// RunSweep (fls/sweep.h).
#include "fls/sweep.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "fls/archive.h"
#include "fls/backend_registry.h"
#include "fls/health_db.h"
#include "fls/thread_pool.h"
#include "fls/unreferenced.h"
#include "leftovers.h"
#include "maintenance_lock.h"
#include "object_io.h"
#include "repair_plan.h"

namespace fls {
namespace {

using Clock = std::chrono::steady_clock;

// Paces reads to `rate` bytes per second: each charge moves a virtual clock
// forward by bytes / rate, and the caller sleeps while that clock is ahead of
// real time.
class RateLimiter {
 public:
  explicit RateLimiter(std::uint64_t rate) : rate_(rate) {}
  void Charge(std::uint64_t bytes) {
    if (rate_ == 0 || bytes == 0) return;
    Clock::time_point until;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const auto now = Clock::now();
      if (next_ < now) next_ = now;
      next_ += std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(static_cast<double>(bytes) / rate_));
      until = next_;
    }
    std::this_thread::sleep_until(until);
  }

 private:
  std::uint64_t rate_;
  std::mutex mu_;
  Clock::time_point next_{};
};

// Chunk bytes a verify of `r` read: every chunk whose file was there.
std::uint64_t BytesRead(const ObjectReport& r, const Manifest& mf) {
  std::uint64_t b = 0;
  for (const ChunkReport& c : r.chunks)
    if (c.state == "ok" || c.state == "damaged" || c.state == "truncated")
      b += mf.chunks[c.index].bytes;
  return b + (r.deep ? mf.size : 0);
}

struct WindowObject {
  const CatalogEntry* entry = nullptr;
  ObjectReport report;
  Status scan_status;
  Health scanned = Health::kHealthy;
  bool rebuilt = false;
  std::string repair_error;
  std::uint64_t bytes = 0;
  Manifest recorded;  // the manifest the health record describes
};

// One object being rebuilt: its writer stays open until its last stripes
// have come back from the backend.
struct PendingRepair {
  WindowObject* obj = nullptr;
  Manifest next;
  std::vector<int> bad;
  std::unique_ptr<internal::RebuiltChunkWriter> writer;
  std::size_t pieces_left = 0;
  Status status;
};

// Stripes of one object, read once, queued for the rebuild of one of its bad
// chunks (bad[x]); an object with several bad chunks shares the batch among
// several groups.
struct Piece {
  PendingRepair* repair = nullptr;
  std::shared_ptr<internal::StripeBatch> batch;
  std::size_t stripes = 0;
  std::size_t x = 0;
};

struct Group {
  Backend* backend = nullptr;
  int n = 0;
  std::size_t block = 0;
  std::vector<int> wanted;
  std::vector<Piece> pieces;
  std::uint64_t bytes = 0;
};

class SweepRun {
 public:
  SweepRun(const Store& store, const SweepOptions& opt, SweepReport* report)
      : store_(store), opt_(opt), report_(report), limiter_(opt.rate_bytes_per_s) {}

  Status Run();

 private:
  void Scan(std::vector<WindowObject>& window);
  Status RepairWindow(std::vector<WindowObject>& window);
  Status StartRepair(WindowObject& obj, std::vector<std::unique_ptr<PendingRepair>>* pending);
  Status Backend(const Manifest& mf, fls::Backend** backend);
  void Flush(Group& g);
  void FinishRepair(PendingRepair& p);
  void RecordTargets();
  Status ProcessWindow(std::vector<CatalogEntry>& entries);
  Status Take(CatalogEntry& e, std::vector<CatalogEntry>* pending);
  void CheckUnreferenced();

  const Store& store_;
  const SweepOptions& opt_;
  SweepReport* report_;
  RateLimiter limiter_;
  std::mutex mu_;  // guards report_ during the parallel scan
  std::map<std::string, std::unique_ptr<fls::Backend>> backends_;
  std::map<std::string, Group> groups_;
  std::map<std::string, std::int64_t> target_errors_;
  internal::TargetProbe probe_;  // per window
  // Objects whose every rebuilt block is written: their chunks are fsynced,
  // renamed and their manifests committed together at the end of the window,
  // many at once, because that part is fsync latency, not bandwidth.
  std::vector<PendingRepair*> ready_;
  ChunkReferences refs_;        // where each object's chunks belong
  std::set<std::string> done_;  // object ids an interrupted run finished
  std::set<std::string> live_;  // object ids seen (the health database keeps only these)
};

// Threads finishing repairs at once: fsyncs of different files overlap (the
// file system commits them in groups).
constexpr int kFinishThreads = 16;

// A backend call takes one code and one block size: an object's short last
// stripe goes to the group of its own block size.
std::string GroupKey(const Manifest& mf, std::size_t block, const std::vector<int>& wanted) {
  std::string key = std::to_string(mf.k) + "/" + std::to_string(mf.m) + "/" +
                    std::string(MatrixKindName(mf.matrix)) + "/" + std::to_string(block) + ":";
  for (int w : wanted) key += std::to_string(w) + ",";
  return key;
}

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

Status SweepRun::Backend(const Manifest& mf, fls::Backend** backend) {
  const std::string key = std::to_string(mf.k) + "/" + std::to_string(mf.m) + "/" +
                          std::string(MatrixKindName(mf.matrix));
  auto& slot = backends_[key];
  if (!slot)
    FLS_RETURN_IF_ERROR(MakeBackend(opt_.backend, opt_.threads, mf.k, mf.m, mf.matrix, &slot));
  *backend = slot.get();
  return Status::Ok();
}

Status SweepRun::StartRepair(WindowObject& obj,
                             std::vector<std::unique_ptr<PendingRepair>>* pending) {
  const CatalogEntry& entry = *obj.entry;
  const Manifest& mf = entry.manifest;
  auto p = std::make_unique<PendingRepair>();
  p->obj = &obj;
  for (const ChunkReport& c : obj.report.chunks)
    if (c.state != "ok") p->bad.push_back(c.index);
  std::vector<int> new_target;
  FLS_RETURN_IF_ERROR(internal::ChooseRepairTargets(store_, mf, p->bad, &probe_, &new_target));
  p->next = internal::MovedManifest(store_, mf, p->bad, new_target);
  PendingRepair& r = *p;
  pending->push_back(std::move(p));
  if (r.bad.empty()) {  // only manifest copies are missing or stale
    ready_.push_back(&r);
    return Status::Ok();
  }
  r.writer = std::make_unique<internal::RebuiltChunkWriter>(store_.env(), r.next, r.bad);
  FLS_RETURN_IF_ERROR(r.writer->Open());
  fls::Backend* backend = nullptr;
  FLS_RETURN_IF_ERROR(Backend(mf, &backend));
  const int n = mf.k + mf.m;
  internal::ObjectReader reader(store_, mf);
  reader.Open();
  reader.Exclude(obj.report.chunks);
  const StripeGeometry& geo = reader.geometry();
  const std::size_t per = internal::StripesPerBatch(geo.stripe_width(), geo.stripes());
  // Batches of stripes of one block size each.
  std::vector<std::pair<std::uint64_t, std::size_t>> runs;
  for (std::uint64_t first = 0; first < geo.stripes();) {
    const std::size_t count = static_cast<std::size_t>(geo.uniform_run(first, per));
    runs.emplace_back(first, count);
    first += count;
  }
  r.pieces_left = runs.size() * r.bad.size();
  if (r.pieces_left == 0) {
    ready_.push_back(&r);
    return Status::Ok();
  }
  for (const auto& [first, count] : runs) {
    const std::size_t block = internal::RepairGroupBlock(
        static_cast<std::size_t>(geo.block_size(first)), geo.full_block());
    // One group per chunk index wanted: with a whole target lost, every
    // object misses one chunk, but which one varies; grouping by single index
    // keeps the groups few (at most k + m per code and block size) and the
    // batches large.
    std::vector<Group*> groups;
    for (int i : r.bad) {
      Group& g = groups_[GroupKey(mf, block, {i})];
      g.backend = backend;
      g.n = n;
      g.block = block;
      g.wanted = {i};
      groups.push_back(&g);
    }
    auto batch = std::make_shared<internal::StripeBatch>();
    reader.Prepare(batch.get(), count);
    // Data chunks first, parity only for stripes that need it.
    FLS_RETURN_IF_ERROR(reader.Read(batch.get(), first, count, false, true));
    std::uint64_t read = 0;
    for (std::size_t got : batch->got) read += got;
    if (batch->block != block) batch = internal::PaddedBatch(*batch, n, block);
    limiter_.Charge(read);
    report_->bytes_read += read;
    for (std::size_t x = 0; x < groups.size(); ++x) {
      Group& g = *groups[x];
      g.bytes += count * n * block;
      g.pieces.push_back(Piece{&r, batch, count, x});
      if (g.bytes >= opt_.batch_bytes) Flush(g);
    }
  }
  return Status::Ok();
}

void SweepRun::Flush(Group& g) {
  if (g.pieces.empty()) return;
  const std::size_t w = g.wanted.size(), n = static_cast<std::size_t>(g.n);
  std::size_t total = 0;
  std::vector<const std::uint8_t*> shards;
  std::set<PendingRepair*> objects;
  for (Piece& p : g.pieces) {
    total += p.stripes;
    shards.insert(shards.end(), p.batch->shards.begin(), p.batch->shards.begin() + p.stripes * n);
    objects.insert(p.repair);
  }
  std::vector<std::uint8_t> rebuilt(total * w * g.block);
  std::vector<std::uint8_t*> outputs(total * w);
  for (std::size_t i = 0; i < outputs.size(); ++i) outputs[i] = rebuilt.data() + i * g.block;
  ReconstructBatch rb;
  rb.stripes = total;
  rb.block_bytes = g.block;
  rb.shards = shards;
  rb.wanted = g.wanted;
  rb.outputs = outputs;
  const Status s = g.backend->Reconstruct(rb);
  ++report_->backend_calls;
  report_->stripes_reconstructed += total;
  report_->max_stripes_per_call = std::max<std::uint64_t>(report_->max_stripes_per_call, total);
  report_->max_objects_per_call =
      std::max<std::uint64_t>(report_->max_objects_per_call, objects.size());
  std::size_t at = 0;
  for (Piece& p : g.pieces) {
    PendingRepair& r = *p.repair;
    if (r.status.ok() && !s.ok()) r.status = s;
    for (std::size_t st = 0; st < p.stripes && r.status.ok(); ++st)
      r.status = r.writer->AppendBlock(p.x, p.batch->first + st, outputs[(at + st) * w]);
    at += p.stripes;
    if (--r.pieces_left == 0) ready_.push_back(&r);
  }
  g.pieces.clear();
  g.bytes = 0;
}

void SweepRun::FinishRepair(PendingRepair& r) {
  WindowObject& obj = *r.obj;
  std::vector<std::string> paths;
  if (r.status.ok() && r.writer) r.status = r.writer->Finish(&paths);
  std::uint64_t generation = 0;
  if (r.status.ok())
    r.status = internal::CommitRepairedManifest(store_, *obj.entry, r.next, &generation);
  if (!r.status.ok()) {
    if (r.writer) r.writer->Abort();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++report_->rebuilt;
    report_->chunks_rebuilt += r.bad.size();
  }
  // The record now describes the repaired object.
  obj.recorded = r.next;
  obj.recorded.generation = generation;
  for (ChunkReport& c : obj.report.chunks) {
    if (c.state == "ok") continue;
    c.detail = "rebuilt by sweep (was " + c.state + (c.detail.empty() ? "" : ": " + c.detail) + ")";
    c.state = "ok";
    c.bad_stripes.clear();
    c.path = r.next.chunks[c.index].path();
  }
  obj.report.health = Health::kHealthy;
  obj.report.generation = generation;
  obj.rebuilt = true;
}

Status SweepRun::RepairWindow(std::vector<WindowObject>& window) {
  std::vector<std::unique_ptr<PendingRepair>> pending;
  probe_ = internal::ProbeTargets(store_);
  for (WindowObject& w : window) {
    if (!w.scan_status.ok() || w.report.health != Health::kDegraded) continue;
    const std::size_t before = pending.size();
    Status s = StartRepair(w, &pending);
    if (!s.ok()) {
      // Its pieces already queued are dropped with it; the object is unchanged.
      for (auto& [key, g] : groups_) {
        auto it = std::remove_if(g.pieces.begin(), g.pieces.end(),
                                 [&](const Piece& p) { return p.repair->obj == &w; });
        for (auto j = it; j != g.pieces.end(); ++j) g.bytes -= j->stripes * g.n * g.block;
        g.pieces.erase(it, g.pieces.end());
      }
      if (pending.size() > before) {
        pending.back()->status = s;
        if (pending.back()->writer) pending.back()->writer->Abort();
      } else {
        auto p = std::make_unique<PendingRepair>();
        p->obj = &w;
        p->status = s;
        pending.push_back(std::move(p));
      }
    }
  }
  for (auto& [key, g] : groups_) Flush(g);
  ThreadPool pool(kFinishThreads);
  pool.Run(ready_.size(), [&](std::size_t i) { FinishRepair(*ready_[i]); });
  ready_.clear();
  for (const auto& p : pending)
    if (!p->status.ok()) {
      p->obj->repair_error = p->status.ToString();
      report_->failed.push_back(p->obj->entry->manifest.name + ": " + p->obj->repair_error);
    }
  return Status::Ok();
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

}  // namespace

std::string SweepMode(const SweepOptions& o) {
  return std::string(o.verify_only ? "verify" : "repair") + (o.deep ? "-deep" : "");
}

Status RunSweep(const Store& store, const SweepOptions& options, SweepReport* report) {
  *report = SweepReport{};
  SweepRun run(store, options, report);
  return run.Run();
}

}  // namespace fls
