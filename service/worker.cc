#include "fls/service/worker.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "fls/service/jobs.h"
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
      // One wake-up per flush: the loop drains everything reported since.
      if (wake_pending_) return;
      wake_pending_ = true;
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
    wake_pending_ = false;
    *finished = finished_;
    *status = status_;
    *seconds = seconds_;
    return out;
  }
  bool finished() {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_;
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
  bool wake_pending_ = false;  // a Notify not yet answered by a Drain
  bool finished_ = false;
  Status status_;
  double seconds_ = 0;
  std::thread thread_;
  std::mutex notify_mu_;
  std::unique_ptr<zmq::socket_t> notify_;  // guarded by notify_mu_
};

// One worker's connection to the broker: the socket, the job it runs and the
// executors it keeps; Worker::Run drives it on the worker's thread.
class WorkerLoop {
 public:
  WorkerLoop(zmq::context_t& context, const WorkerOptions& options, const std::atomic<bool>& stop,
             std::string notify_endpoint)
      : context_(context),
        options_(options),
        stop_(stop),
        notify_endpoint_(std::move(notify_endpoint)),
        notify_(context, zmq::socket_type::pull),
        backoff_ms_(options.reconnect_min_ms),
        liveness_(options.liveness),
        hb_(options.heartbeat_ms) {
    notify_.bind(notify_endpoint_);
  }

  Status Run() {
    FLS_RETURN_IF_ERROR(Connect());
    while (!stop_.load()) {
      zmq::pollitem_t items[] = {{static_cast<void*>(*socket_), 0, ZMQ_POLLIN, 0},
                                 {static_cast<void*>(notify_), 0, ZMQ_POLLIN, 0}};
      const Clock::time_point wake =
          flush_due_ ? std::min(next_heartbeat_, next_flush_) : next_heartbeat_;
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now());
      PollItems(items, 2, std::max<long>(0, std::min<long>(wait.count(), 100)));
      if (items[1].revents & ZMQ_POLLIN) {
        std::vector<std::string> drop;
        while (RecvFrames(notify_, &drop)) {
        }
        flush_due_ = true;
      }
      // A finished job is reported at once; a running one's items wait for
      // the interval, so that many quick items share one PROGRESS.
      if (flush_due_ && (!running_ || running_->finished() || Clock::now() >= next_flush_)) {
        flush_due_ = false;
        next_flush_ = Clock::now() + std::chrono::milliseconds(options_.progress_interval_ms);
        Flush();
      }
      if (items[0].revents & ZMQ_POLLIN) FLS_RETURN_IF_ERROR(ReadBroker());
      if (Clock::now() >= next_heartbeat_) FLS_RETURN_IF_ERROR(Heartbeat());
    }
    Abandon("stopping");
    Send("DISCONNECT", nlohmann::json::object());
    return Status::Ok();
  }

 private:
  void Send(std::string_view command, const nlohmann::json& body) {
    if (socket_) SendFrames(*socket_, WorkerFrames(command, body));
  }

  Status Connect() {
    socket_ = std::make_unique<zmq::socket_t>(context_, zmq::socket_type::dealer);
    socket_->set(zmq::sockopt::linger, 0);
    socket_->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options_.max_message_bytes * 4));
    FLS_RETURN_IF_ERROR(ApplyCurveClient(*socket_, options_.curve));
    socket_->connect(options_.endpoint);
    Send("READY", {{"name", options_.name}});
    spdlog::info("worker {}: connecting to {}", options_.name, options_.endpoint);
    connected_ = false;
    liveness_ = options_.liveness;
    next_heartbeat_ = Clock::now() + hb_;
    return Status::Ok();
  }

  // Reads what the broker sent. A DISCONNECT replaces the socket, so the
  // rest of the old one's messages are dropped with it.
  Status ReadBroker() {
    std::vector<std::string> frames;
    while (RecvFrames(*socket_, &frames)) {
      WorkerMessage msg;
      ProtocolError perr;
      if (!ParseWorkerMessage(frames, options_.max_message_bytes * 4, &msg, &perr)) {
        spdlog::warn("worker {}: dropped a malformed message: {}", options_.name, perr.message);
        continue;
      }
      liveness_ = options_.liveness;
      backoff_ms_ = options_.reconnect_min_ms;
      if (!connected_) {
        connected_ = true;
        spdlog::info("worker {}: connected to the broker at {}", options_.name, options_.endpoint);
      }
      if (msg.command == "REQUEST") {
        HandleRequest(msg.body);
      } else if (msg.command == "CANCEL") {
        if (running_ && msg.body.value("job_id", std::int64_t{0}) == running_->job().id)
          running_->Cancel();
      } else if (msg.command == "DISCONNECT") {
        // The broker does not know us (it restarted, or declared us dead):
        // whatever we run has been re-queued, so stop it and start afresh.
        Abandon("broker sent DISCONNECT");
        return Connect();
      } else if (msg.command != "HEARTBEAT") {
        spdlog::warn("worker {}: unknown command '{}'", options_.name, msg.command);
      }
    }
    return Status::Ok();
  }

  // A REQUEST: starts the job on its own thread, or REPLYs an error at once
  // when the request is malformed or no executor can be built for its store.
  void HandleRequest(const nlohmann::json& body) {
    if (running_) {
      spdlog::warn("worker {}: REQUEST while busy; ignored", options_.name);
      return;
    }
    WorkerRequest request;
    Status s = WorkerRequest::FromJson(body, &request);
    const std::string key = s.ok() ? request.store.ToJson().dump() : std::string();
    if (s.ok() && !executors_.count(key)) {
      std::unique_ptr<JobExecutor> ex;
      s = options_.factory(request.store, &ex);
      if (s.ok()) {
        executors_.clear();
        executors_[key] = std::move(ex);
      }
    }
    if (!s.ok()) {
      spdlog::warn("worker {}: job {} refused: {}", options_.name, request.job_id, s.ToString());
      Send("REPLY", {{"job_id", request.job_id},
                     {"attempt", request.attempt},
                     {"status", "error"},
                     {"error", s.ToString()},
                     {"seconds", 0.0},
                     {"backend", ""}});
      return;
    }
    Job job;
    job.id = request.job_id;
    job.attempt = request.attempt;
    job.kind = KindOf(request.spec);
    job.spec = std::move(request.spec);
    job.items = std::move(request.items);
    job.source_roots = std::move(request.source_roots);
    job.output_roots = std::move(request.output_roots);
    spdlog::info("worker {}: job {} attempt {}: {}, {} item(s)", options_.name, job.id, job.attempt,
                 JobKindName(job.kind), job.items.size());
    running_ = std::make_unique<RunningJob>(context_, notify_endpoint_, std::move(job));
    next_flush_ = Clock::now() + std::chrono::milliseconds(options_.progress_interval_ms);
    running_->Start(executors_[key].get());
  }

  // Sends the results reported so far; REPLY once the executor has returned.
  void Flush() {
    if (!running_) return;
    bool finished = false;
    Status status;
    double seconds = 0;
    nlohmann::json items = running_->Drain(&finished, &status, &seconds);
    const Job& job = running_->job();
    // Keep each message well under the size cap.
    for (std::size_t i = 0; i < items.size(); i += 256) {
      nlohmann::json part = nlohmann::json::array();
      for (std::size_t j = i; j < items.size() && j < i + 256; ++j) part.push_back(items[j]);
      Send("PROGRESS", {{"job_id", job.id}, {"attempt", job.attempt}, {"items", part}});
    }
    if (!finished) return;
    running_->Join();
    nlohmann::json reply = {{"job_id", job.id}, {"attempt", job.attempt}, {"seconds", seconds}};
    auto it = executors_.begin();
    reply["backend"] = it != executors_.end() ? it->second->backend() : "";
    for (auto& [key, executor] : executors_) {
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
    Send("REPLY", reply);
    running_.reset();
  }

  void Abandon(const char* why) {
    if (!running_) return;
    spdlog::warn("worker {}: abandoning job {} ({})", options_.name, running_->job().id, why);
    running_->Cancel();
    running_->Join();
    running_.reset();
  }

  Status Heartbeat() {
    // While a job runs, a silent broker is more likely busy (an fsync of its
    // journal behind our own writes) than dead; a broker that did die and
    // restart answers our next heartbeat with DISCONNECT, and then we stop
    // the job. So only an idle worker reconnects on silence.
    if (running_) liveness_ = std::max(liveness_, 1);
    if (!running_ && --liveness_ <= 0) {
      spdlog::warn("worker {}: broker silent for {} heartbeats; reconnecting in {} ms",
                   options_.name, options_.liveness, backoff_ms_);
      Abandon("broker silent");
      socket_.reset();
      for (int waited = 0; waited < backoff_ms_ && !stop_.load(); waited += 20)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      backoff_ms_ = std::min(backoff_ms_ * 2, options_.reconnect_max_ms);
      return Connect();
    }
    Send("HEARTBEAT", nlohmann::json::object());
    next_heartbeat_ = Clock::now() + hb_;
    return Status::Ok();
  }

  zmq::context_t& context_;
  const WorkerOptions& options_;
  const std::atomic<bool>& stop_;
  const std::string notify_endpoint_;
  zmq::socket_t notify_;  // wakes the loop when the job reports
  std::map<std::string, std::unique_ptr<JobExecutor>> executors_;  // by store settings
  std::unique_ptr<RunningJob> running_;  // destroyed before executors_, which it runs on
  std::unique_ptr<zmq::socket_t> socket_;
  int backoff_ms_;
  bool connected_ = false;  // the broker has answered since the last connect
  int liveness_;
  Clock::time_point next_heartbeat_;
  bool flush_due_ = false;        // the job reported something not yet sent
  Clock::time_point next_flush_;  // when a running job's results may next be sent
  const std::chrono::milliseconds hb_;
};

}  // namespace

Worker::Worker(zmq::context_t& context, WorkerOptions options)
    : context_(context), options_(std::move(options)) {}

Status Worker::Run(const std::atomic<bool>& stop) {
  if (!options_.factory) return Status::InvalidArgument("worker: no executor factory");
  WorkerLoop loop(
      context_, options_, stop,
      "inproc://fls-worker-notify-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)));
  return loop.Run();
}

}  // namespace fls::service
