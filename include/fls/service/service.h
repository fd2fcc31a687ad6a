// RunService: `fls serve` as a function: the broker on the calling thread and
// `config.in_process_workers` workers on threads of their own, connected over
// inproc. Returns when `stop` becomes true (SIGINT/SIGTERM in the CLI), after
// the workers have stopped. RunWorkers: `fls worker --connect`, `count`
// workers of one process against a (possibly remote) broker.
// Thread-safety: call each once per process.
#pragma once

#include <atomic>

#include "fls/service/config.h"
#include "fls/service/job_executor.h"
#include "fls/service/worker.h"
#include "fls/status.h"

namespace fls::service {

// `ready` (optional) is set once every socket is bound.
Status RunService(const ServiceConfig& config, const ExecutorFactory& factory,
                  const std::atomic<bool>& stop, std::atomic<bool>* ready = nullptr);

Status RunWorkers(const WorkerOptions& options, int count, const std::atomic<bool>& stop);

}  // namespace fls::service
