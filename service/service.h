// RunService: `fls serve` as a function: the broker on the calling thread and
// `config.in_process_workers` workers on threads of their own, connected over
// inproc. Returns when `stop` becomes true (SIGINT/SIGTERM in the CLI), after
// the workers have stopped. RunWorkers: `fls worker --connect`, `count`
// workers of one process against a (possibly remote) broker.
// Thread-safety: call each once per process.
#pragma once

#include <atomic>

#include "fls/status.h"
#include "service/config.h"
#include "service/job_executor.h"
#include "service/worker.h"

namespace fls::service {

// `ready` (optional) is set once every socket is bound.
Status RunService(const ServiceConfig& config, const ExecutorFactory& factory,
                  const std::atomic<bool>& stop, std::atomic<bool>* ready = nullptr);

Status RunWorkers(const WorkerOptions& options, int count, const std::atomic<bool>& stop);

}  // namespace fls::service
