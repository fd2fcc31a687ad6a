// SweepRun's repair stage (sweep_run.h): the degraded objects of a window
// rebuilt with the stripes of many objects merged into large backend calls,
// then their chunks made durable and manifests committed together.
#include <algorithm>
#include <memory>
#include <set>

#include "fls/backend_registry.h"
#include "fls/thread_pool.h"
#include "sweep_run.h"

namespace fls::internal {
namespace {

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

}  // namespace

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

}  // namespace fls::internal
