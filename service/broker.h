// Broker: the heart of `fls serve`. One thread owns every socket and the
// journal (broker.cc: start-up and the poll loop; broker_clients.cc: client
// requests; broker_held_status.cc: STATUS held until its job ends;
// broker_workers.cc: workers and dispatch):
//   client ROUTER   Titanic-style requests: SUBMIT (journalled before the job
//                   id is returned), STATUS (held until the job ends when it
//                   asks to wait), LIST, CANCEL, CLOSE, PING, STATS
//   worker ROUTER   Majordomo-style workers, remote (config endpoint, Curve
//                   when configured) and in-process (inproc, no Curve)
//   event PUB       progress events
//   ZAP REP         CurveZMQ client authentication, when Curve is on
// All ROUTERs set ZMQ_ROUTER_MANDATORY, so a reply to a vanished peer is an
// error the broker sees (and, for a worker, a death it acts on).
// Thread-safety: construct, Start and Run on one thread; RequestStop from any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "client_monitor.h"
#include "fls/service/config.h"
#include "fls/service/jobs.h"
#include "fls/service/protocol.h"
#include "fls/service/zmq_util.h"
#include "fls/status.h"
#include "journal.h"
#include "path_policy.h"
#include "space_monitor.h"

namespace fls::service {

// The ERROR a client gets for a failed journal call: not_found, bad_request
// or internal.
ProtocolError FromStatus(const Status& s);

class Broker {
 public:
  Broker(zmq::context_t& context, ServiceConfig config);
  ~Broker();

  // Opens the journal (re-queuing jobs a previous run left running), resolves
  // the roots and binds every socket. Errors name the endpoint or path.
  Status Start();
  // Serves until `stop` is true.
  Status Run(const std::atomic<bool>& stop);

  // Where in-process workers connect (valid after Start).
  const std::string& inproc_worker_endpoint() const { return inproc_endpoint_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct WorkerInfo {
    int socket = 0;  // index into worker_sockets_
    std::string identity;
    std::string name;
    Clock::time_point expiry;
    std::int64_t job_id = 0;
    int attempt = 0;
  };

  // A STATUS with `wait_ms` for a job that has not ended, held until the job
  // ends or the wait is over (PROTOCOL.md, STATUS): the client learns of the
  // end at once instead of polling, and idle polls stop waking this thread.
  struct StatusWaiter {
    std::string identity;
    bool delimited = false;
    std::int64_t job_id = 0;
    bool files = false;
    Clock::time_point deadline;
  };

  void HandleClient();
  // True when the request was held (no reply now).
  bool HoldStatus(const std::string& identity, bool delimited, const nlohmann::json& body);
  // Answers the held STATUS requests whose job ended or whose wait is over;
  // every one of them with `all` (the broker is stopping).
  void AnswerHeldStatus(bool all);
  // The time until the earliest held STATUS is due (at most `cap`).
  long MillisecondsToNextDue(long cap) const;
  void ReplyToClient(const std::string& identity, bool delimited,
                     const std::vector<std::string>& reply);
  void HandleWorker(int socket_index);
  void HandleWorkerMessage(int socket_index, const std::string& identity,
                           const WorkerMessage& message);
  void HandleZap();
  // One warning line per refused client request: peer, verb, code, reason.
  void LogRefusal(const std::string& identity, const MessageSource& source,
                  const std::vector<std::string>& frames, const ProtocolError& error);
  nlohmann::json HandleRequest(const ClientRequest& request, ProtocolError* error, bool* ok);
  bool Submit(const nlohmann::json& body, nlohmann::json* reply, ProtocolError* error);
  // What a SUBMIT journals besides its spec: the items, and the lease keys
  // of the objects (or outputs) it may write.
  struct JobPlan {
    std::vector<std::string> items, leases;
  };
  // Per kind: checks what the spec names against the roots, resolves its
  // paths in place and plans the items and leases. False with `error` filled.
  bool Plan(ArchiveSpec* spec, JobPlan* plan, ProtocolError* error);
  bool Plan(RestoreSpec* spec, JobPlan* plan, ProtocolError* error);
  bool Plan(VerifySpec* spec, JobPlan* plan, ProtocolError* error);
  bool Plan(RepairSpec* spec, JobPlan* plan, ProtocolError* error);
  bool Plan(StatsSpec* spec, JobPlan* plan, ProtocolError* error);
  bool Plan(DeleteSpec* spec, JobPlan* plan, ProtocolError* error);
  bool Plan(CompactSpec* spec, JobPlan* plan, ProtocolError* error);
  void Dispatch();
  // The REQUEST for a journalled job that `Journal::Start` just started;
  // false (the job failed in the journal) when its spec cannot be read.
  bool BuildRequest(const JobRecord& job, int attempt, WorkerRequest* request);
  void SendHeartbeats();
  void ExpireWorkers();
  void RemoveWorker(const std::string& key, const std::string& why);
  bool SendToWorker(WorkerInfo& w, std::string_view command, const nlohmann::json& body);
  void FinishJob(WorkerInfo& w, const nlohmann::json& body);
  void Publish(std::int64_t job_id, const nlohmann::json& body);
  // Queues a repair sweep of everything when config sweep.interval is due and
  // the last scheduled one has ended.
  void ScheduleSweep();
  void ScheduleCompaction();
  void QueueScheduled(JobKind kind, const nlohmann::json& spec,
                      const std::vector<std::string>& items, const char* what, std::int64_t* last);
  nlohmann::json StatsBody();

  zmq::context_t& context_;
  ServiceConfig config_;
  std::unique_ptr<Journal> journal_;
  PathPolicy policy_;
  std::string inproc_endpoint_;
  std::unique_ptr<zmq::socket_t> clients_, events_, zap_;
  std::vector<std::unique_ptr<zmq::socket_t>> worker_sockets_;
  std::vector<StatusWaiter> held_status_;
  std::set<std::int64_t> ended_jobs_;  // jobs that ended since held STATUS were last looked at
  static constexpr std::size_t kMaxHeldStatus = 4096;  // more are answered at once
  ClientMonitor monitor_;                              // after clients_: stopped before it closes
  std::map<std::string, WorkerInfo> workers_;          // key: socket index + identity
  std::deque<std::string> idle_;
  bool dispatch_needed_ = true;
  Clock::time_point next_heartbeat_;
  Clock::time_point next_sweep_;
  std::int64_t scheduled_sweep_job_ = 0;
  Clock::time_point next_compaction_;
  std::int64_t scheduled_compaction_job_ = 0;
  Clock::time_point dispatch_after_;  // grace after a restart that re-queued jobs
  std::map<std::int64_t, Clock::time_point> not_before_;  // re-queued after a worker loss
  // Backend-call merging reported by workers' REPLYs since this broker
  // started (not journalled: an observation, not state).
  struct BatchingTotals {
    std::uint64_t jobs = 0, calls = 0, requests = 0, stripes = 0, bytes = 0;
  };
  BatchingTotals batching_;
  // STATS's "space": the store's totals, computed off this thread.
  std::unique_ptr<SpaceMonitor> space_;
  static constexpr int kMaxAttempts = 5;
};

}  // namespace fls::service
