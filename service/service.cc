#include "fls/service/service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "broker.h"

namespace fls::service {

Status RunService(const ServiceConfig& config, const ExecutorFactory& factory,
                  const std::atomic<bool>& stop, std::atomic<bool>* ready) {
  zmq::context_t context(2);
  Status result;
  {
    Broker broker(context, config);
    FLS_RETURN_IF_ERROR(broker.Start());
    std::atomic<bool> workers_stop{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < config.in_process_workers; ++i) {
      WorkerOptions o;
      o.endpoint = broker.inproc_worker_endpoint();
      o.name = "local-" + std::to_string(::getpid()) + "-" + std::to_string(i);
      o.heartbeat_ms = config.heartbeat_ms;
      o.liveness = config.heartbeat_liveness;
      o.max_message_bytes = config.max_message_bytes;
      o.factory = factory;
      threads.emplace_back([&context, o, &workers_stop] {
        Worker w(context, o);
        Status s = w.Run(workers_stop);
        if (!s.ok()) spdlog::error("in-process worker {}: {}", o.name, s.ToString());
      });
    }
    if (ready) ready->store(true);
    result = broker.Run(stop);
    workers_stop = true;
    for (auto& t : threads) t.join();
  }
  return result;
}

Status RunWorkers(const WorkerOptions& options, int count, const std::atomic<bool>& stop) {
  spdlog::info("fls worker {} (version {}, pid {}) starting: {} worker(s), broker {}", options.name,
               FLS_VERSION, ::getpid(), count, options.endpoint);
  zmq::context_t context(1);
  std::vector<std::thread> threads;
  std::vector<Status> results(count);
  for (int i = 0; i < count; ++i) {
    WorkerOptions o = options;
    if (count > 1) o.name = fmt::format("{}-{}", o.name, i);
    threads.emplace_back([&context, o, &stop, &results, i] {
      Worker w(context, o);
      results[i] = w.Run(stop);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : results)
    if (!s.ok()) return s;
  spdlog::info("fls worker {} stopped", options.name);
  return Status::Ok();
}

}  // namespace fls::service
