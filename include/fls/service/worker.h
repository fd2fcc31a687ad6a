// Worker: takes jobs from the broker (Majordomo style) and runs them through a
// JobExecutor.
//
//   worker -> broker: READY, HEARTBEAT, PROGRESS (item results), REPLY, DISCONNECT
//   broker -> worker: REQUEST (a job), HEARTBEAT, CANCEL, DISCONNECT
//
// The worker heartbeats every heartbeat_ms; a broker silent for `liveness`
// heartbeats is taken for dead: the running job is cancelled (the broker will
// have re-queued it) and the worker reconnects with exponential back-off.
// A job runs on its own thread so that heartbeats and cancels keep flowing;
// its item results go to the broker in PROGRESS messages at most every
// progress_interval_ms, and all at once when it ends.
// Thread-safety: Run is called once, from one thread; Stop from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <zmq.hpp>

#include "fls/service/job_executor.h"
#include "fls/service/zmq_util.h"
#include "fls/status.h"

namespace fls::service {

struct WorkerOptions {
  std::string endpoint;
  std::string name;  // shown in logs and job records
  int heartbeat_ms = 1000;
  int liveness = 3;
  int reconnect_min_ms = 100;
  int reconnect_max_ms = 5000;
  // Item results reach the broker at most this often while a job runs (all
  // that is left when it ends): one PROGRESS, and one journal transaction,
  // per item made a job of 100 quick items spend more time journalling than
  // working. What a crash loses of them is redone by the resumed job.
  int progress_interval_ms = 50;
  std::uint64_t max_message_bytes = 1u << 20;
  CurveClientKeys curve;
  ExecutorFactory factory;
};

class Worker {
 public:
  Worker(zmq::context_t& context, WorkerOptions options);
  // Serves until `stop` becomes true. Errors only for a bad configuration.
  Status Run(const std::atomic<bool>& stop);

 private:
  zmq::context_t& context_;
  WorkerOptions options_;
};

}  // namespace fls::service
