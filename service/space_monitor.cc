#include "space_monitor.h"

#include <spdlog/spdlog.h>

#include "fls/env.h"
#include "fls/space_report.h"

namespace fls::service {

SpaceMonitor::SpaceMonitor(std::vector<Target> targets, std::chrono::milliseconds interval)
    : targets_(std::move(targets)), interval_(interval) {}

SpaceMonitor::~SpaceMonitor() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SpaceMonitor::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void SpaceMonitor::Request() {
  {
    std::lock_guard<std::mutex> l(mu_);
    requested_ = true;
  }
  cv_.notify_all();
}

void SpaceMonitor::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  bool first = true;
  while (true) {
    cv_.wait(l, [&] { return stop_ || requested_; });
    // The interval counts from the previous start: a burst of finished jobs
    // costs one walk per interval, never one per job.
    if (!first) cv_.wait_until(l, last_start_ + interval_, [&] { return stop_; });
    if (stop_) return;
    first = false;
    requested_ = false;
    computing_ = true;
    last_start_ = Clock::now();
    l.unlock();
    std::unique_ptr<Store> store;
    SpaceReport report;
    Status s = Store::FromTargets(Env::Default(), targets_, &store);
    if (s.ok()) s = ReportSpace(*store, &report);
    nlohmann::json result;
    if (s.ok())
      result = nlohmann::json::parse(SpaceReportJson(report, false));
    else
      result = {{"error", s.ToString()}};
    if (!s.ok()) spdlog::warn("space totals: {}", s.ToString());
    const Clock::time_point end = Clock::now();
    l.lock();
    computing_ = false;
    have_result_ = true;
    result_ = std::move(result);
    finished_ = end;
    took_seconds_ = std::chrono::duration<double>(end - last_start_).count();
  }
}

nlohmann::json SpaceMonitor::Snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  nlohmann::json out = nlohmann::json::object();
  if (have_result_) out = result_;
  out["state"] = !have_result_ ? "pending" : result_.contains("error") ? "failed" : "ready";
  out["computing"] = computing_;
  out["interval_seconds"] = std::chrono::duration<double>(interval_).count();
  if (have_result_) {
    out["age_seconds"] = std::chrono::duration<double>(Clock::now() - finished_).count();
    out["took_seconds"] = took_seconds_;
  }
  return out;
}

}  // namespace fls::service
