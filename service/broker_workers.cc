// The broker's worker side (Majordomo): READY, HEARTBEAT, PROGRESS, REPLY
// and DISCONNECT from workers; dispatch of queued jobs as REQUESTs
// (fls/service/jobs.h); worker expiry and re-queueing; scheduled sweeps.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker.h"
#include "fls/json_int.h"
#include "fls/service/zmq_util.h"

namespace fls::service {
namespace {

std::string WorkerKey(int socket, const std::string& identity) {
  return std::to_string(socket) + ":" + identity;
}

}  // namespace

void Broker::HandleWorker(int si) {
  std::vector<std::string> frames;
  for (int n = 0; n < 1024 && RecvFrames(*worker_sockets_[si], &frames); ++n) {
    if (frames.size() < 2) continue;
    const std::string identity = frames[0];
    WorkerMessage msg;
    ProtocolError err;
    std::vector<std::string> rest(frames.begin() + 1, frames.end());
    if (!ParseWorkerMessage(rest, config_.max_message_bytes * 4, &msg, &err)) {
      spdlog::warn("dropped a malformed worker message: {}", err.message);
      continue;
    }
    try {
      HandleWorkerMessage(si, identity, msg);
    } catch (const std::exception& e) {
      spdlog::warn("dropped a worker {} message: {}", msg.command, e.what());
    }
  }
}

void Broker::HandleWorkerMessage(int si, const std::string& identity, const WorkerMessage& msg) {
  const std::string key = WorkerKey(si, identity);
  {
    auto it = workers_.find(key);
    if (msg.command == "READY") {
      if (it != workers_.end()) RemoveWorker(key, "announced itself again");
      WorkerInfo w;
      w.socket = si;
      w.identity = identity;
      w.name = msg.body.value("name", std::string("worker"));
      w.expiry = Clock::now() +
                 std::chrono::milliseconds(config_.heartbeat_ms * config_.heartbeat_liveness);
      workers_[key] = w;
      idle_.push_back(key);
      dispatch_needed_ = true;
      spdlog::info("worker {} ready ({} workers)", w.name, workers_.size());
      return;
    }
    if (it == workers_.end()) {
      // Majordomo: a worker we do not know (we restarted, or it was declared
      // dead) is told to disconnect; it will start afresh with READY.
      if (msg.command != "DISCONNECT") {
        WorkerInfo tmp;
        tmp.socket = si;
        tmp.identity = identity;
        SendToWorker(tmp, "DISCONNECT", nlohmann::json::object());
      }
      return;
    }
    WorkerInfo& w = it->second;
    w.expiry =
        Clock::now() + std::chrono::milliseconds(config_.heartbeat_ms * config_.heartbeat_liveness);
    if (msg.command == "HEARTBEAT") return;
    if (msg.command == "DISCONNECT") {
      RemoveWorker(key, "disconnected");
      return;
    }
    const std::int64_t job_id = msg.body.value("job_id", std::int64_t{0});
    const int attempt = msg.body.value("attempt", 0);
    if (job_id != w.job_id || attempt != w.attempt || job_id == 0) {
      spdlog::warn("worker {}: {} for job {} attempt {}, which it does not hold; ignored", w.name,
                   msg.command, job_id, attempt);
      return;
    }
    if (msg.command == "PROGRESS") {
      std::vector<Journal::ItemUpdate> updates;
      if (msg.body.contains("items") && msg.body["items"].is_array())
        for (const auto& i : msg.body["items"]) {
          if (!i.is_object() || !i.contains("name") || !i["name"].is_string()) continue;
          Journal::ItemUpdate u;
          u.name = i["name"].get<std::string>();
          u.ok = i.value("ok", false);
          u.error = i.value("error", std::string());
          u.bytes = i.value("bytes", std::uint64_t{0});
          if (i.contains("result")) u.result = i["result"];
          updates.push_back(std::move(u));
        }
      Status s = journal_->RecordItems(job_id, updates);
      if (!s.ok()) spdlog::error("job {}: item results not journalled: {}", job_id, s.ToString());
      JobRecord rec;
      if (journal_->Get(job_id, false, &rec).ok())
        Publish(job_id, {{"state", "running"},
                         {"items_done", rec.items_done},
                         {"items_failed", rec.items_failed},
                         {"items_total", rec.items_total},
                         {"bytes", rec.bytes}});
    } else if (msg.command == "REPLY") {
      FinishJob(w, msg.body);
    } else {
      spdlog::warn("worker {}: unknown command '{}'", w.name, msg.command);
    }
  }
}

void Broker::FinishJob(WorkerInfo& w, const nlohmann::json& body) {
  const std::int64_t id = w.job_id;
  const std::string status = body.value("status", std::string("error"));
  std::string state, error;
  JobRecord rec;
  Status s = journal_->Get(id, false, &rec);
  if (status == "cancelled" || (rec.cancel_requested && status != "ok")) {
    state = "cancelled";
    error = "cancelled by request";
  } else if (status == "ok") {
    const std::int64_t pending = rec.items_total - rec.items_done - rec.items_failed;
    if (rec.items_failed > 0) {
      state = "failed";
      error = std::to_string(rec.items_failed) + " of " + std::to_string(rec.items_total) +
              " items failed";
    } else if (pending > 0) {
      state = "failed";
      error = "the executor left " + std::to_string(pending) + " items unreported";
    } else {
      state = "done";
    }
  } else {
    state = "failed";
    error = body.value("error", std::string("the worker reported an error"));
  }
  if (body.contains("batching")) {
    try {
      const nlohmann::json& b = body.at("batching");
      BatchingTotals t;
      t.calls = JsonInt<std::uint64_t>(b.at("backend_calls"), "backend_calls");
      t.requests = JsonInt<std::uint64_t>(b.at("requests"), "requests");
      t.stripes = JsonInt<std::uint64_t>(b.at("stripes"), "stripes");
      t.bytes = JsonInt<std::uint64_t>(b.at("bytes"), "bytes");
      batching_.jobs += 1;
      batching_.calls += t.calls;
      batching_.requests += t.requests;
      batching_.stripes += t.stripes;
      batching_.bytes += t.bytes;
    } catch (const std::exception& e) {
      spdlog::warn("worker {}: job {}: malformed batching report ignored: {}", w.name, id,
                   e.what());
    }
  }
  s = journal_->Finish(id, state, error, body.value("backend", std::string()),
                       body.value("seconds", 0.0));
  if (!s.ok()) spdlog::error("job {}: end not journalled: {}", id, s.ToString());
  spdlog::info("job {} {}{}{} on {}", id, state, error.empty() ? "" : ": ", error, w.name);
  Publish(id, {{"state", state}, {"error", error}});
  // Any job but the read-only kinds may have written or removed files.
  if (rec.kind != "restore" && rec.kind != "verify" && rec.kind != "stats") space_->Request();
  w.job_id = 0;
  w.attempt = 0;
  idle_.push_back(WorkerKey(w.socket, w.identity));
  dispatch_needed_ = true;
}

bool Broker::SendToWorker(WorkerInfo& w, std::string_view command, const nlohmann::json& body) {
  std::vector<std::string> frames = {w.identity};
  auto rest = WorkerFrames(command, body);
  frames.insert(frames.end(), rest.begin(), rest.end());
  int err = 0;
  if (SendFrames(*worker_sockets_[w.socket], frames, &err)) return true;
  spdlog::debug("send {} to worker {} failed: {}", command, w.name, zmq_strerror(err));
  return false;
}

void Broker::RemoveWorker(const std::string& key, const std::string& why) {
  auto it = workers_.find(key);
  if (it == workers_.end()) return;
  const WorkerInfo w = it->second;
  workers_.erase(it);
  idle_.erase(std::remove(idle_.begin(), idle_.end(), key), idle_.end());
  spdlog::warn("worker {} removed: {} ({} workers left)", w.name, why, workers_.size());
  if (w.job_id == 0) return;
  JobRecord rec;
  if (journal_->Get(w.job_id, false, &rec).ok() && rec.attempt >= kMaxAttempts) {
    journal_->Finish(w.job_id, "failed",
                     "gave up after " + std::to_string(rec.attempt) +
                         " attempts: its worker died each time (last: " + why + ")",
                     "", 0);
    Publish(w.job_id, {{"state", "failed"}});
  } else {
    Status s = journal_->Requeue(w.job_id, "re-queued: worker " + w.name + " " + why);
    // A worker we lost may still be running the job (a network partition, a
    // stalled process); it stops when it misses our heartbeats. Give it that
    // long before another worker takes the job.
    not_before_[w.job_id] = Clock::now() + std::chrono::milliseconds(2 * config_.heartbeat_ms *
                                                                     config_.heartbeat_liveness);
    if (!s.ok()) spdlog::error("job {}: re-queue not journalled: {}", w.job_id, s.ToString());
    spdlog::info("job {} re-queued: worker {} {}", w.job_id, w.name, why);
    Publish(w.job_id, {{"state", "queued"}, {"requeued", true}});
  }
  dispatch_needed_ = true;
}

void Broker::SendHeartbeats() {
  std::vector<std::string> dead;
  for (auto& [key, w] : workers_)
    if (!SendToWorker(w, "HEARTBEAT", nlohmann::json::object())) dead.push_back(key);
  for (const auto& k : dead) RemoveWorker(k, "unreachable");
}

void Broker::ExpireWorkers() {
  const auto now = Clock::now();
  std::vector<std::string> dead;
  for (auto& [key, w] : workers_)
    if (now > w.expiry) dead.push_back(key);
  for (const auto& k : dead)
    RemoveWorker(k, "silent for " + std::to_string(config_.heartbeat_liveness) + " heartbeats");
}

void Broker::Dispatch() {
  if (!dispatch_needed_ || idle_.empty() || Clock::now() < dispatch_after_) return;
  dispatch_needed_ = false;
  std::vector<JobRecord> queued;
  Status s = journal_->Queued(static_cast<int>(idle_.size()) * 4 + 16, &queued);
  if (!s.ok()) {
    spdlog::error("dispatch: {}", s.ToString());
    return;
  }
  bool deferred = false;
  for (const auto& job : queued) {
    if (idle_.empty()) break;
    auto nb = not_before_.find(job.id);
    if (nb != not_before_.end()) {
      if (Clock::now() < nb->second) {
        deferred = true;
        continue;
      }
      not_before_.erase(nb);
    }
    const std::string key = idle_.front();
    WorkerInfo& w = workers_[key];
    bool started = false;
    int attempt = 0;
    s = journal_->Start(job.id, w.name, &started, &attempt);
    if (!s.ok()) {
      spdlog::error("job {}: cannot start: {}", job.id, s.ToString());
      continue;
    }
    if (!started) continue;  // an object it writes is leased by a running job
    WorkerRequest request;
    if (!BuildRequest(job, attempt, &request)) continue;
    idle_.pop_front();
    w.job_id = job.id;
    w.attempt = attempt;
    if (!SendToWorker(w, "REQUEST", request.ToJson())) {
      RemoveWorker(key, "unreachable");
      continue;
    }
    spdlog::info("job {} attempt {} -> worker {} ({} item(s) to do)", job.id, attempt, w.name,
                 request.items.size());
    Publish(job.id, {{"state", "running"}, {"worker", w.name}, {"attempt", attempt}});
  }
  // Jobs left behind a lease wait for the next finish, which sets the flag;
  // deferred ones are looked at again on the next pass.
  if (deferred) dispatch_needed_ = true;
}

bool Broker::BuildRequest(const JobRecord& job, int attempt, WorkerRequest* request) {
  request->job_id = job.id;
  request->attempt = attempt;
  JobKind kind;
  Status s = ParseJobKind(job.kind, &kind);
  if (s.ok()) s = JobSpecFromJson(kind, job.spec, &request->spec);
  if (s.ok()) {
    s = journal_->PendingItems(job.id, &request->items);
    if (!s.ok()) {
      journal_->Requeue(job.id, s.ToString());
      return false;
    }
  } else {
    // Only a journal written by another version, or damaged, holds a spec
    // this one cannot read; running it again would fail the same way.
    spdlog::error("job {}: cannot be dispatched: {}", job.id, s.ToString());
    s = journal_->Finish(job.id, "failed", "cannot be dispatched: " + s.ToString(), "", 0);
    if (!s.ok()) spdlog::error("job {}: end not journalled: {}", job.id, s.ToString());
    Publish(job.id, {{"state", "failed"}});
    return false;
  }
  request->store = config_.store;
  request->source_roots = policy_.source_roots();
  request->output_roots = policy_.output_roots();
  return true;
}

// Queues a job the broker schedules itself (`what` for the log), unless the
// last one it queued (*last) is still queued or running: never two at once.
void Broker::QueueScheduled(JobKind kind, const nlohmann::json& spec,
                            const std::vector<std::string>& items, const char* what,
                            std::int64_t* last) {
  JobRecord prev;
  if (*last != 0 && journal_->Get(*last, false, &prev).ok() &&
      (prev.state == "queued" || prev.state == "running"))
    return;
  std::int64_t id = 0;
  Status s = journal_->Submit(std::string(JobKindName(kind)), spec, items, {"*"}, &id);
  if (!s.ok()) {
    spdlog::error("{} not journalled: {}", what, s.ToString());
    return;
  }
  *last = id;
  spdlog::info("job {} queued: {}", id, what);
  Publish(id, {{"state", "queued"},
               {"kind", JobKindName(kind)},
               {"items_total", items.size()},
               {"scheduled", true}});
  dispatch_needed_ = true;
}

void Broker::ScheduleSweep() {
  if (config_.sweep.interval_ms <= 0 || Clock::now() < next_sweep_) return;
  next_sweep_ = Clock::now() + std::chrono::milliseconds(config_.sweep.interval_ms);
  RepairSpec spec;
  spec.scheduled = true;
  spec.health_db = config_.HealthDbPath();
  spec.sweep =
      SweepSpec{config_.sweep.verify_only, config_.sweep.deep, config_.sweep.rate_bytes_per_s};
  QueueScheduled(RepairSpec::kKind, spec.ToJson(), {}, "scheduled repair sweep",
                 &scheduled_sweep_job_);
}

void Broker::ScheduleCompaction() {
  if (config_.compact.interval_ms <= 0 || Clock::now() < next_compaction_) return;
  next_compaction_ = Clock::now() + std::chrono::milliseconds(config_.compact.interval_ms);
  CompactSpec spec;
  spec.scheduled = true;
  spec.min_dead_percent = config_.compact.min_dead_percent;
  QueueScheduled(CompactSpec::kKind, spec.ToJson(), {"store"}, "scheduled compaction",
                 &scheduled_compaction_job_);
}

}  // namespace fls::service
