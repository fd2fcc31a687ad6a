// The broker's frame: start-up (journal, roots, sockets), the poll loop, ZAP
// authentication, events and STATS. Client requests are in
// broker_clients.cc, the worker side in broker_workers.cc.
#include "broker.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "fls/service/zmq_util.h"

namespace fls::service {

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
  std::vector<Target> targets;
  for (const auto& t : config_.store.targets) targets.push_back({t.path, t.domain});
  space_ = std::make_unique<SpaceMonitor>(std::move(targets),
                                          std::chrono::milliseconds(config_.space_interval_ms));
  space_->Start();

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
  next_compaction_ = Clock::now() + std::chrono::milliseconds(config_.compact.interval_ms);
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
    const long timeout = MillisecondsToNextDue(std::clamp<long>(wait.count(), 0, 100));
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
    ScheduleCompaction();
    Dispatch();
    AnswerHeldStatus(/*all=*/false);
    monitor_.LogClosed();
  }
  AnswerHeldStatus(/*all=*/true);
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

void Broker::Publish(std::int64_t job_id, const nlohmann::json& body) {
  if (IsEndedJobState(body.value("state", std::string()))) ended_jobs_.insert(job_id);
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
  if (space_ != nullptr) out["space"] = space_->Snapshot();
  return out;
}

}  // namespace fls::service
