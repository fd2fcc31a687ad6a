#include "broker.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "fls/service/job_executor.h"
#include "fls/service/zmq_util.h"
#include "json_int.h"

namespace fls::service {
namespace {

std::string WorkerKey(int socket, const std::string& identity) {
  return std::to_string(socket) + ":" + identity;
}

ProtocolError FromStatus(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNotFound:
      return {errc::kNotFound, s.message()};
    case Status::Code::kInvalidArgument:
      return {errc::kBadRequest, s.message()};
    default:
      return {errc::kInternal, s.ToString()};
  }
}

// An object name a client may give to restore: it becomes a relative path
// under the output directory, so it must not climb out of it.
bool SafeObjectName(const std::string& name) {
  if (name.empty() || name[0] == '/' || name.find('\0') != std::string::npos) return false;
  for (const auto& part : std::filesystem::path(name))
    if (part == "..") return false;
  return true;
}

}  // namespace

Broker::Broker(zmq::context_t& context, ServiceConfig config)
    : context_(context), config_(std::move(config)) {}

Broker::~Broker() = default;

Status Broker::Start() {
  FLS_RETURN_IF_ERROR(Journal::Open(config_.journal_path, &journal_));
  int requeued = 0;
  FLS_RETURN_IF_ERROR(journal_->Recover(&requeued));
  if (requeued > 0) {
    // Workers of the previous run may still be finishing these jobs; they
    // hear DISCONNECT at their next heartbeat and stop. Wait that long
    // before handing the jobs out again.
    dispatch_after_ =
        Clock::now() + std::chrono::milliseconds(config_.heartbeat_ms * config_.heartbeat_liveness);
    spdlog::info("journal: {} unfinished job(s) re-queued", requeued);
  }
  FLS_RETURN_IF_ERROR(PathPolicy::Create(config_.source_roots, config_.output_roots, &policy_));
  for (const auto& t : config_.store.targets) {
    std::error_code ec;
    std::filesystem::create_directories(t.path, ec);
  }

  const int max_msg =
      static_cast<int>(std::min<std::uint64_t>(config_.max_message_bytes * 4, 1u << 30));
  auto make = [&](zmq::socket_type type, bool curve, const std::string& endpoint,
                  std::unique_ptr<zmq::socket_t>* out) -> Status {
    auto s = std::make_unique<zmq::socket_t>(context_, type);
    s->set(zmq::sockopt::linger, 0);
    if (type == zmq::socket_type::router) {
      s->set(zmq::sockopt::router_mandatory, 1);
      s->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(max_msg));
    }
    if (curve && config_.curve.enabled) {
      s->set(zmq::sockopt::zap_domain, "fls");
      s->set(zmq::sockopt::curve_server, 1);
      s->set(zmq::sockopt::curve_secretkey, config_.curve.server_secret_key);
    }
    try {
      s->bind(endpoint);
    } catch (const zmq::error_t& e) {
      return Status::Unavailable("cannot bind '" + endpoint + "': " + e.what());
    }
    *out = std::move(s);
    return Status::Ok();
  };
  if (config_.curve.enabled) {
    zap_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::rep);
    zap_->set(zmq::sockopt::linger, 0);
    zap_->bind("inproc://zeromq.zap.01");
  }
  FLS_RETURN_IF_ERROR(make(zmq::socket_type::router, true, config_.client_endpoint, &clients_));
  FLS_RETURN_IF_ERROR(monitor_.Start(context_, *clients_, static_cast<std::uint64_t>(max_msg)));
  FLS_RETURN_IF_ERROR(make(zmq::socket_type::pub, true, config_.event_endpoint, &events_));
  worker_sockets_.resize(2);
  FLS_RETURN_IF_ERROR(
      make(zmq::socket_type::router, true, config_.worker_endpoint, &worker_sockets_[0]));
  inproc_endpoint_ = "inproc://fls-workers-" + std::to_string(::getpid());
  FLS_RETURN_IF_ERROR(make(zmq::socket_type::router, false, inproc_endpoint_, &worker_sockets_[1]));
  spdlog::info("fls serve: clients {} workers {} events {} journal {} curve {}",
               config_.client_endpoint, config_.worker_endpoint, config_.event_endpoint,
               config_.journal_path, config_.curve.enabled ? "on" : "off");
  next_heartbeat_ = Clock::now();
  next_sweep_ = Clock::now() + std::chrono::milliseconds(config_.sweep.interval_ms);
  return Status::Ok();
}

Status Broker::Run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    std::vector<zmq::pollitem_t> items = {
        {static_cast<void*>(*clients_), 0, ZMQ_POLLIN, 0},
        {static_cast<void*>(*worker_sockets_[0]), 0, ZMQ_POLLIN, 0},
        {static_cast<void*>(*worker_sockets_[1]), 0, ZMQ_POLLIN, 0}};
    if (zap_) items.push_back({static_cast<void*>(*zap_), 0, ZMQ_POLLIN, 0});
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(next_heartbeat_ - Clock::now());
    const long timeout = std::clamp<long>(wait.count(), 0, 100);
    PollItems(items.data(), items.size(), timeout);
    if (zap_ && (items[3].revents & ZMQ_POLLIN)) HandleZap();
    if (items[1].revents & ZMQ_POLLIN) HandleWorker(0);
    if (items[2].revents & ZMQ_POLLIN) HandleWorker(1);
    if (items[0].revents & ZMQ_POLLIN) HandleClient();
    if (Clock::now() >= next_heartbeat_) {
      // Read what the workers sent while this thread was busy (a slow
      // journal fsync) before judging anyone silent.
      HandleWorker(0);
      HandleWorker(1);
      SendHeartbeats();
      ExpireWorkers();
      next_heartbeat_ = Clock::now() + std::chrono::milliseconds(config_.heartbeat_ms);
    }
    ScheduleSweep();
    Dispatch();
    monitor_.LogClosed();
  }
  // Tell workers we are going, so that they reconnect at once to our successor.
  for (auto& [key, w] : workers_) SendToWorker(w, "DISCONNECT", nlohmann::json::object());
  return Status::Ok();
}

void Broker::HandleZap() {
  std::vector<std::string> f;
  while (RecvFrames(*zap_, &f)) {
    // ZAP 1.0: version, request id, domain, address, identity, mechanism, credentials...
    std::string status = "400", text = "malformed ZAP request";
    if (f.size() >= 6 && f[0] == "1.0") {
      if (f[5] == "CURVE" && f.size() >= 7 && f[6].size() == 32) {
        char z85[41];
        zmq_z85_encode(z85, reinterpret_cast<const uint8_t*>(f[6].data()), 32);
        const auto& allowed = config_.curve.authorized_keys;
        if (allowed.empty() || std::find(allowed.begin(), allowed.end(), z85) != allowed.end()) {
          status = "200";
          text = "OK";
        } else {
          text = "client key not authorized";
          spdlog::warn("refused a CurveZMQ peer from {}: key {} is not authorized", f[3], z85);
        }
      } else {
        text = "CURVE required";
      }
    }
    const std::string req_id = f.size() > 1 ? f[1] : "";
    SendFrames(*zap_, {"1.0", req_id, status, text, status == "200" ? "client" : "", ""});
  }
}

void Broker::HandleClient() {
  std::vector<std::string> frames;
  MessageSource source;
  for (int n = 0; n < 256 && RecvFrames(*clients_, &frames, true, &source); ++n) {
    if (frames.empty()) continue;
    monitor_.Note(source.fd);
    const std::string identity = frames[0];
    std::vector<std::string> rest(frames.begin() + 1, frames.end());
    ClientRequest request;
    bool delimited = false;
    ProtocolError error;
    std::vector<std::string> reply;
    if (!ParseClientRequest(rest, config_.max_message_bytes, &request, &delimited, &error) ||
        !ValidateClientBody(request, config_.max_files_per_job, &error)) {
      reply = ErrorReply(error);
    } else {
      bool ok = true;
      nlohmann::json body;
      try {
        body = HandleRequest(request, &error, &ok);
      } catch (const std::exception& e) {
        // Validation should have caught it; never let a request take the
        // service down.
        ok = false;
        error = {errc::kInternal, std::string("request failed: ") + e.what()};
        spdlog::error("client {} request: {}", request.verb, e.what());
      }
      reply = ok ? OkReply(body) : ErrorReply(error);
    }
    if (reply.size() > 1 && reply[1] == "ERROR") LogRefusal(identity, source, rest, error);
    std::vector<std::string> out = {identity};
    if (delimited) out.emplace_back();
    out.insert(out.end(), reply.begin(), reply.end());
    int err = 0;
    if (!SendFrames(*clients_, out, &err))
      spdlog::debug("reply to a client that left: {}", zmq_strerror(err));
  }
}

void Broker::LogRefusal(const std::string& identity, const MessageSource& source,
                        const std::vector<std::string>& frames, const ProtocolError& error) {
  // The verb as sent: the frame after the protocol frame (after the optional
  // delimiter), or "-" when the message was too short to have one.
  std::size_t i = !frames.empty() && frames[0].empty() ? 1 : 0;
  const std::string verb = frames.size() > i + 1 ? LogSafe(frames[i + 1], 32) : "-";
  std::string peer = monitor_.PeerOf(source.fd);
  if (peer.empty()) peer = source.peer_address.empty() ? "in-process" : source.peer_address;
  std::string id_hex;
  for (unsigned char c : identity.substr(0, 16)) {
    char h[3];
    std::snprintf(h, sizeof h, "%02x", c);
    id_hex += h;
  }
  spdlog::warn("refused {} from {} (routing id {}): {}: {}", verb, peer, id_hex, error.code,
               LogSafe(error.message, 400));
}

nlohmann::json Broker::HandleRequest(const ClientRequest& r, ProtocolError* error, bool* ok) {
  const auto& b = r.body;
  *ok = false;
  if (r.verb == "PING") {
    *ok = true;
    // The limits, so that a client can check a request before sending it: a
    // frame above 4 x max_message_bytes never gets an answer (PROTOCOL.md).
    return {{"pong", true},
            {"version", FLS_VERSION},
            {"pid", ::getpid()},
            {"max_message_bytes", config_.max_message_bytes},
            {"max_files_per_job", config_.max_files_per_job}};
  }
  if (r.verb == "STATS") {
    *ok = true;
    return StatsBody();
  }
  if (r.verb == "SUBMIT") {
    nlohmann::json reply;
    *ok = Submit(b, &reply, error);
    return reply;
  }
  if (r.verb == "LIST") {
    std::vector<JobRecord> jobs;
    Status s = journal_->List(b.value("state", std::string()), b.value("limit", 100), &jobs);
    if (!s.ok()) {
      *error = FromStatus(s);
      return {};
    }
    nlohmann::json list = nlohmann::json::array();
    for (const auto& j : jobs) list.push_back(j.ToJson(false));
    *ok = true;
    return {{"jobs", list}};
  }
  const std::int64_t id = b["job_id"].get<std::int64_t>();
  if (r.verb == "STATUS") {
    JobRecord job;
    Status s = journal_->Get(id, b.value("files", false), &job);
    if (!s.ok()) {
      *error = FromStatus(s);
      return {};
    }
    *ok = true;
    return job.ToJson(b.value("files", false));
  }
  if (r.verb == "CANCEL") {
    bool now = false;
    Status s = journal_->RequestCancel(id, &now);
    if (!s.ok()) {
      *error = s.code() == Status::Code::kInvalidArgument
                   ? ProtocolError{errc::kConflict, s.message()}
                   : FromStatus(s);
      return {};
    }
    if (now) {
      Publish(id, {{"state", "cancelled"}});
    } else {
      for (auto& [key, w] : workers_)
        if (w.job_id == id) SendToWorker(w, "CANCEL", {{"job_id", id}});
    }
    *ok = true;
    return {{"job_id", id}, {"state", now ? "cancelled" : "cancelling"}};
  }
  // CLOSE
  Status s = journal_->Close(id);
  if (!s.ok()) {
    *error = s.code() == Status::Code::kInvalidArgument
                 ? ProtocolError{errc::kConflict, s.message()}
                 : FromStatus(s);
    return {};
  }
  *ok = true;
  return {{"job_id", id}, {"closed", true}};
}

bool Broker::Submit(const nlohmann::json& b, nlohmann::json* reply, ProtocolError* error) {
  const std::string kind = b["kind"].get<std::string>();
  nlohmann::json spec = b;
  std::vector<std::string> items, leases;
  const std::size_t max_items = static_cast<std::size_t>(config_.max_files_per_job);
  if (kind == "archive") {
    const std::string prefix = b.value("name_prefix", std::string());
    if (!prefix.empty() && (prefix[0] == '/' || !SafeObjectName(prefix + "x"))) {
      *error = {errc::kBadRequest,
                "name_prefix '" + prefix + "' must not be absolute or contain '..'"};
      return false;
    }
    if (Status c = CheckControlCharacters(prefix); !c.ok()) {
      *error = {errc::kBadRequest, "name_prefix: " + c.message()};
      return false;
    }
    nlohmann::json resolved_paths = nlohmann::json::array();
    for (const auto& p : b["paths"]) {
      std::string resolved;
      Status s = policy_.ResolveSource(p.get<std::string>(), &resolved);
      if (s.ok())
        s = policy_.ExpandSource(resolved, max_items - std::min(max_items, items.size()), &items);
      if (!s.ok()) {
        *error = {
            s.code() == Status::Code::kInvalidArgument ? errc::kPathRejected : errc::kNotFound,
            s.message()};
        return false;
      }
      resolved_paths.push_back(resolved);
    }
    spec["paths"] = resolved_paths;
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
    for (const auto& f : items) leases.push_back(ArchiveObjectName(prefix, f));
  } else if (kind == "restore") {
    std::string out;
    Status s = policy_.ResolveOutput(b["output"].get<std::string>(), &out);
    if (!s.ok()) {
      *error = {errc::kPathRejected, s.message()};
      return false;
    }
    spec["output"] = out;
    for (const auto& o : b["objects"]) {
      const std::string name = o.get<std::string>();
      if (!SafeObjectName(name)) {
        *error = {errc::kPathRejected,
                  "object name '" + name + "' would leave the output directory"};
        return false;
      }
      items.push_back(name);
    }
    leases.push_back("output:" + out);
  } else if (kind == "verify" || kind == "repair") {
    if (b.contains("objects"))
      for (const auto& o : b["objects"]) items.push_back(o.get<std::string>());
    if (kind == "repair") leases = items.empty() ? std::vector<std::string>{"*"} : items;
    // A repair of everything is a sweep; it records to the service's health
    // database (never a path a client names).
    if (kind == "repair" && items.empty()) {
      spec["health_db"] = config_.HealthDbPath();
      if (!spec.contains("sweep")) spec["sweep"] = nlohmann::json::object();
      if (b.contains("deep")) spec["sweep"]["deep"] = b["deep"];
    }
  }
  if (items.size() > max_items) {
    *error = {errc::kTooLarge, "job has " + std::to_string(items.size()) + " items; the limit is " +
                                   std::to_string(max_items)};
    return false;
  }
  std::int64_t id = 0;
  Status s = journal_->Submit(kind, spec, items, leases, &id);
  if (!s.ok()) {
    spdlog::error("SUBMIT not journalled: {}", s.ToString());
    *error = FromStatus(s);
    return false;
  }
  spdlog::info("job {} queued: {} with {} item(s)", id, kind, items.size());
  Publish(id, {{"state", "queued"}, {"kind", kind}, {"items_total", items.size()}});
  dispatch_needed_ = true;
  *reply = {{"job_id", id}, {"state", "queued"}, {"items", items.size()}};
  return true;
}

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
  const nlohmann::json store = config_.store.ToJson();
  const nlohmann::json roots = {{"source", policy_.source_roots()},
                                {"output", policy_.output_roots()}};
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
    std::vector<std::string> items;
    s = journal_->PendingItems(job.id, &items);
    if (!s.ok()) {
      journal_->Requeue(job.id, s.ToString());
      continue;
    }
    idle_.pop_front();
    w.job_id = job.id;
    w.attempt = attempt;
    nlohmann::json request = {{"job_id", job.id}, {"attempt", attempt}, {"kind", job.kind},
                              {"spec", job.spec}, {"items", items},     {"store", store},
                              {"roots", roots}};
    if (!SendToWorker(w, "REQUEST", request)) {
      RemoveWorker(key, "unreachable");
      continue;
    }
    spdlog::info("job {} attempt {} -> worker {} ({} item(s) to do)", job.id, attempt, w.name,
                 items.size());
    Publish(job.id, {{"state", "running"}, {"worker", w.name}, {"attempt", attempt}});
  }
  // Jobs left behind a lease wait for the next finish, which sets the flag;
  // deferred ones are looked at again on the next pass.
  if (deferred) dispatch_needed_ = true;
}

void Broker::ScheduleSweep() {
  if (config_.sweep.interval_ms <= 0 || Clock::now() < next_sweep_) return;
  next_sweep_ = Clock::now() + std::chrono::milliseconds(config_.sweep.interval_ms);
  JobRecord last;
  if (scheduled_sweep_job_ != 0 && journal_->Get(scheduled_sweep_job_, false, &last).ok() &&
      (last.state == "queued" || last.state == "running"))
    return;  // the previous one is still going: never two at once
  const nlohmann::json spec = {{"kind", "repair"},
                               {"scheduled", true},
                               {"health_db", config_.HealthDbPath()},
                               {"sweep",
                                {{"verify_only", config_.sweep.verify_only},
                                 {"deep", config_.sweep.deep},
                                 {"rate_bytes_per_s", config_.sweep.rate_bytes_per_s}}}};
  std::int64_t id = 0;
  Status s = journal_->Submit("repair", spec, {}, {"*"}, &id);
  if (!s.ok()) {
    spdlog::error("scheduled sweep not journalled: {}", s.ToString());
    return;
  }
  scheduled_sweep_job_ = id;
  spdlog::info("job {} queued: scheduled repair sweep", id);
  Publish(id, {{"state", "queued"}, {"kind", "repair"}, {"items_total", 0}, {"scheduled", true}});
  dispatch_needed_ = true;
}

void Broker::Publish(std::int64_t job_id, const nlohmann::json& body) {
  nlohmann::json b = body;
  b["job_id"] = job_id;
  SendFrames(*events_, EventFrames(job_id, b));
}

nlohmann::json Broker::StatsBody() {
  JournalStats st;
  nlohmann::json out;
  Status s = journal_->Stats(&st);
  if (!s.ok()) out["error"] = s.ToString();
  out["jobs"] = st.jobs_by_state;
  out["queue_depth"] = journal_->QueueDepth();
  int busy = 0;
  for (const auto& [k, w] : workers_) busy += w.job_id != 0;
  out["workers"] = workers_.size();
  out["workers_busy"] = busy;
  nlohmann::json backends = nlohmann::json::object();
  for (const auto& [name, b] : st.by_backend)
    backends[name] = {{"jobs", b.jobs},
                      {"bytes", b.bytes},
                      {"seconds", b.seconds},
                      {"gbps", b.seconds > 0 ? b.bytes / b.seconds / 1e9 : 0.0}};
  out["backends"] = backends;
  const double calls = static_cast<double>(batching_.calls);
  out["batching"] = {{"jobs", batching_.jobs},
                     {"backend_calls", batching_.calls},
                     {"requests", batching_.requests},
                     {"stripes", batching_.stripes},
                     {"bytes", batching_.bytes},
                     {"stripes_per_call", calls > 0 ? batching_.stripes / calls : 0.0},
                     {"files_per_call", calls > 0 ? batching_.requests / calls : 0.0}};
  return out;
}

}  // namespace fls::service
