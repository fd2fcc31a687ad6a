#include "fls/service/worker.h"
#include "json_int.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "fls/service/protocol.h"

namespace fls::service {
namespace {

using Clock = std::chrono::steady_clock;

// State shared between the worker's socket thread and the job's thread.
class RunningJob : public JobContext {
 public:
  RunningJob(zmq::context_t& context, std::string notify_endpoint, Job job)
      : context_(context), notify_endpoint_(std::move(notify_endpoint)), job_(std::move(job)) {}

  bool Cancelled() const override { return cancelled_.load(); }
  void ItemDone(const std::string& name, const Status& status, nlohmann::json result,
                std::uint64_t bytes) override {
    nlohmann::json item = {{"name", name}, {"ok", status.ok()}, {"bytes", bytes}};
    if (!status.ok()) item["error"] = status.ToString();
    if (!result.is_null()) item["result"] = std::move(result);
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.push_back(std::move(item));
    }
    Notify();
  }

  void Start(JobExecutor* executor) {
    thread_ = std::thread([this, executor] {
      const auto t0 = Clock::now();
      Status s = executor->Execute(job_, *this);
      {
        std::lock_guard<std::mutex> lock(mu_);
        status_ = s;
        seconds_ = std::chrono::duration<double>(Clock::now() - t0).count();
        finished_ = true;
      }
      Notify();
      std::lock_guard<std::mutex> lock(notify_mu_);
      notify_.reset();
    });
  }
  void Cancel() { cancelled_ = true; }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  // Moves out the item results reported so far; `finished` tells whether the
  // executor has returned (then `status` and `seconds` are final).
  nlohmann::json Drain(bool* finished, Status* status, double* seconds) {
    std::lock_guard<std::mutex> lock(mu_);
    nlohmann::json out = std::move(pending_);
    pending_ = nlohmann::json::array();
    *finished = finished_;
    *status = status_;
    *seconds = seconds_;
    return out;
  }
  const Job& job() const { return job_; }

 private:
  void Notify() {
    // One PUSH socket per job; ItemDone may come from several executor
    // threads at once, and a ZeroMQ socket must never be used by two threads
    // at the same time: the mutex serialises them (and is the full memory
    // barrier ZeroMQ asks for when a socket changes threads).
    std::lock_guard<std::mutex> lock(notify_mu_);
    if (!notify_) {
      notify_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::push);
      notify_->set(zmq::sockopt::linger, 0);
      notify_->connect(notify_endpoint_);
    }
    notify_->send(zmq::str_buffer("x"), zmq::send_flags::dontwait);
  }

  zmq::context_t& context_;
  std::string notify_endpoint_;
  Job job_;
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  nlohmann::json pending_ = nlohmann::json::array();
  bool finished_ = false;
  Status status_;
  double seconds_ = 0;
  std::thread thread_;
  std::mutex notify_mu_;
  std::unique_ptr<zmq::socket_t> notify_;  // guarded by notify_mu_
};

}  // namespace

Worker::Worker(zmq::context_t& context, WorkerOptions options)
    : context_(context), options_(std::move(options)) {}

Status Worker::Run(const std::atomic<bool>& stop) {
  if (!options_.factory) return Status::InvalidArgument("worker: no executor factory");
  const std::string notify_endpoint =
      "inproc://fls-worker-notify-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
  zmq::socket_t notify(context_, zmq::socket_type::pull);
  notify.bind(notify_endpoint);

  std::map<std::string, std::unique_ptr<JobExecutor>> executors;  // by store settings
  std::unique_ptr<RunningJob> running;
  std::unique_ptr<zmq::socket_t> socket;
  int backoff_ms = options_.reconnect_min_ms;
  bool connected = false;  // the broker has answered since the last connect
  int liveness = options_.liveness;
  Clock::time_point next_heartbeat;
  const auto hb = std::chrono::milliseconds(options_.heartbeat_ms);

  auto send = [&](std::string_view command, const nlohmann::json& body) {
    if (socket) SendFrames(*socket, WorkerFrames(command, body));
  };
  auto connect = [&]() -> Status {
    socket = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
    socket->set(zmq::sockopt::linger, 0);
    socket->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options_.max_message_bytes * 4));
    FLS_RETURN_IF_ERROR(ApplyCurveClient(*socket, options_.curve));
    socket->connect(options_.endpoint);
    send("READY", {{"name", options_.name}});
    spdlog::info("worker {}: connecting to {}", options_.name, options_.endpoint);
    connected = false;
    liveness = options_.liveness;
    next_heartbeat = Clock::now() + hb;
    return Status::Ok();
  };
  // Sends the results reported so far; REPLY once the executor has returned.
  auto flush = [&]() {
    if (!running) return;
    bool finished = false;
    Status status;
    double seconds = 0;
    nlohmann::json items = running->Drain(&finished, &status, &seconds);
    const Job& job = running->job();
    // Keep each message well under the size cap.
    for (std::size_t i = 0; i < items.size(); i += 256) {
      nlohmann::json part = nlohmann::json::array();
      for (std::size_t j = i; j < items.size() && j < i + 256; ++j) part.push_back(items[j]);
      send("PROGRESS", {{"job_id", job.id}, {"attempt", job.attempt}, {"items", part}});
    }
    if (!finished) return;
    running->Join();
    nlohmann::json reply = {{"job_id", job.id}, {"attempt", job.attempt}, {"seconds", seconds}};
    auto it = executors.begin();
    reply["backend"] = it != executors.end() ? it->second->backend() : "";
    for (auto& [key, executor] : executors) {
      nlohmann::json batching = executor->TakeBatchingStats();
      if (!batching.is_null()) reply["batching"] = std::move(batching);
    }
    if (status.ok()) {
      reply["status"] = "ok";
    } else if (status.code() == Status::Code::kCancelled) {
      reply["status"] = "cancelled";
    } else {
      reply["status"] = "error";
      reply["error"] = status.ToString();
    }
    spdlog::info("worker {}: job {} attempt {} {} after {:.3f} s{}{}", options_.name, job.id,
                 job.attempt, reply["status"].get<std::string>(), seconds, status.ok() ? "" : ": ",
                 status.ok() ? "" : status.ToString());
    send("REPLY", reply);
    running.reset();
  };
  auto abandon = [&](const char* why) {
    if (!running) return;
    spdlog::warn("worker {}: abandoning job {} ({})", options_.name, running->job().id, why);
    running->Cancel();
    running->Join();
    running.reset();
  };

  FLS_RETURN_IF_ERROR(connect());
  while (!stop.load()) {
    zmq::pollitem_t items[] = {{static_cast<void*>(*socket), 0, ZMQ_POLLIN, 0},
                               {static_cast<void*>(notify), 0, ZMQ_POLLIN, 0}};
    const auto now = Clock::now();
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_heartbeat - now);
    const long timeout = std::max<long>(0, std::min<long>(wait.count(), 100));
    PollItems(items, 2, timeout);

    if (items[1].revents & ZMQ_POLLIN) {
      std::vector<std::string> drop;
      while (RecvFrames(notify, &drop)) {
      }
      flush();
    }
    if (items[0].revents & ZMQ_POLLIN) {
      std::vector<std::string> frames;
      while (RecvFrames(*socket, &frames)) {
        WorkerMessage msg;
        ProtocolError perr;
        if (!ParseWorkerMessage(frames, options_.max_message_bytes * 4, &msg, &perr)) {
          spdlog::warn("worker {}: dropped a malformed message: {}", options_.name, perr.message);
          continue;
        }
        liveness = options_.liveness;
        backoff_ms = options_.reconnect_min_ms;
        if (!connected) {
          connected = true;
          spdlog::info("worker {}: connected to the broker at {}", options_.name,
                       options_.endpoint);
        }
        if (msg.command == "REQUEST") {
          if (running) {
            spdlog::warn("worker {}: REQUEST while busy; ignored", options_.name);
            continue;
          }
          Job job;
          StoreConfig store;
          Status s;
          try {
            job.id = JsonInt<std::int64_t>(msg.body.at("job_id"), "job_id");
            job.attempt = JsonInt<int>(msg.body.at("attempt"), "attempt");
            job.kind = msg.body.at("kind").get<std::string>();
            job.spec = msg.body.at("spec");
            job.items = msg.body.at("items").get<std::vector<std::string>>();
            // Every path of the job is opened below one of these roots.
            const auto& roots = msg.body.at("roots");
            job.source_roots = roots.at("source").get<std::vector<std::string>>();
            job.output_roots = roots.at("output").get<std::vector<std::string>>();
            s = StoreConfig::FromJson(msg.body.at("store"), &store);
          } catch (const std::exception& e) {
            s = Status::InvalidArgument(std::string("bad REQUEST: ") + e.what());
          }
          const std::string key = msg.body.contains("store") ? msg.body["store"].dump() : "";
          if (s.ok() && !executors.count(key)) {
            std::unique_ptr<JobExecutor> ex;
            s = options_.factory(store, &ex);
            if (s.ok()) {
              executors.clear();
              executors[key] = std::move(ex);
            }
          }
          if (!s.ok()) {
            spdlog::warn("worker {}: job {} refused: {}", options_.name, job.id, s.ToString());
            send("REPLY", {{"job_id", job.id},
                           {"attempt", job.attempt},
                           {"status", "error"},
                           {"error", s.ToString()},
                           {"seconds", 0.0},
                           {"backend", ""}});
            continue;
          }
          spdlog::info("worker {}: job {} attempt {}: {}, {} item(s)", options_.name, job.id,
                       job.attempt, job.kind, job.items.size());
          running = std::make_unique<RunningJob>(context_, notify_endpoint, std::move(job));
          running->Start(executors[key].get());
        } else if (msg.command == "CANCEL") {
          if (running && msg.body.value("job_id", std::int64_t{0}) == running->job().id)
            running->Cancel();
        } else if (msg.command == "DISCONNECT") {
          // The broker does not know us (it restarted, or declared us dead):
          // whatever we run has been re-queued, so stop it and start afresh.
          abandon("broker sent DISCONNECT");
          FLS_RETURN_IF_ERROR(connect());
          break;
        } else if (msg.command != "HEARTBEAT") {
          spdlog::warn("worker {}: unknown command '{}'", options_.name, msg.command);
        }
      }
    }
    if (Clock::now() >= next_heartbeat) {
      // While a job runs, a silent broker is more likely busy (an fsync of
      // its journal behind our own writes) than dead; a broker that did die
      // and restart answers our next heartbeat with DISCONNECT, and then we
      // stop the job. So only an idle worker reconnects on silence.
      if (running) liveness = std::max(liveness, 1);
      if (!running && --liveness <= 0) {
        spdlog::warn("worker {}: broker silent for {} heartbeats; reconnecting in {} ms",
                     options_.name, options_.liveness, backoff_ms);
        abandon("broker silent");
        socket.reset();
        for (int waited = 0; waited < backoff_ms && !stop.load(); waited += 20)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        backoff_ms = std::min(backoff_ms * 2, options_.reconnect_max_ms);
        FLS_RETURN_IF_ERROR(connect());
        continue;
      }
      send("HEARTBEAT", nlohmann::json::object());
      next_heartbeat = Clock::now() + hb;
    }
  }
  abandon("stopping");
  send("DISCONNECT", nlohmann::json::object());
  return Status::Ok();
}

}  // namespace fls::service
