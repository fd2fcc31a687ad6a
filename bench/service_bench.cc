#include "service_bench.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "fls/service/client.h"
#include "fls/service/config.h"
#include "fls/service/protocol.h"
#include "fls/service/service.h"
#include "fls/service/zmq_util.h"

namespace fls::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using service::ServiceClient;

int FreePort() {
  // Bind port 0 on loopback through ZeroMQ and read back what it got.
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::rep);
  s.bind("tcp://127.0.0.1:*");
  const std::string ep = s.get(zmq::sockopt::last_endpoint);
  return std::stoi(ep.substr(ep.rfind(':') + 1));
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

Status WriteRandomFile(const std::string& path, std::uint64_t size, std::mt19937_64& rng) {
  std::ofstream out(path, std::ios::binary);
  std::vector<std::uint64_t> buf(1 << 16);
  std::uint64_t left = size;
  while (left > 0) {
    for (auto& w : buf) w = rng();
    const std::uint64_t n = std::min<std::uint64_t>(left, buf.size() * 8);
    out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(n));
    left -= n;
  }
  out.close();
  return out ? Status::Ok() : Status::IOError("cannot write bench file '" + path + "'");
}

// Waits for "done"/"failed"/"cancelled" events of `ids` on the event socket,
// recording when each ended; STATUS polls catch any event missed.
class JobWatcher {
 public:
  JobWatcher(const std::string& events, ServiceClient* client) : client_(client) {
    sub_.set(zmq::sockopt::subscribe, std::string(service::kEventProtocol));
    sub_.connect(events);
  }
  Status Wait(const std::set<std::int64_t>& ids, std::map<std::int64_t, Clock::time_point>* ended,
              int timeout_s) {
    const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
    auto last_poll = Clock::now();
    while (true) {
      bool all = true;
      for (auto id : ids)
        if (!ended->count(id)) all = false;
      if (all) break;
      if (Clock::now() > deadline) return Status::Internal("bench: jobs did not finish in time");
      zmq::pollitem_t item = {static_cast<void*>(sub_), 0, ZMQ_POLLIN, 0};
      service::PollItems(&item, 1, 50);
      std::vector<std::string> f;
      while (service::RecvFrames(sub_, &f)) {
        if (f.size() != 3) continue;
        auto j = nlohmann::json::parse(f[2], nullptr, false);
        if (j.is_discarded()) continue;
        const std::string st = j.value("state", "");
        const std::int64_t id = j.value("job_id", std::int64_t{0});
        if ((st == "done" || st == "failed" || st == "cancelled") && ids.count(id)) {
          if (st != "done") return Status::Internal("bench job " + std::to_string(id) + " " + st);
          ended->emplace(id, Clock::now());
        }
      }
      if (Clock::now() - last_poll > std::chrono::seconds(2)) {
        last_poll = Clock::now();
        for (auto id : ids) {
          if (ended->count(id)) continue;
          nlohmann::json r;
          FLS_RETURN_IF_ERROR(client_->Call("STATUS", {{"job_id", id}}, 10000, &r));
          const std::string st = r.value("state", "");
          if (st == "done") ended->emplace(id, Clock::now());
          if (st == "failed" || st == "cancelled")
            return Status::Internal("bench job " + std::to_string(id) + " " + st + ": " +
                                    r.value("error", ""));
        }
      }
    }
    return Status::Ok();
  }

 private:
  zmq::context_t ctx_{1};
  zmq::socket_t sub_{ctx_, zmq::socket_type::sub};
  ServiceClient* client_;
};

}  // namespace

Status RunServiceBench(const ServiceBenchOptions& o,
                       const std::function<void(const ServiceBenchRow&)>& emit) {
  if (o.files < 1 || o.min_size > o.max_size || o.per_file_limit < 1 || o.single_jobs < 1)
    return Status::InvalidArgument("bench service: bad --files / sizes / limits");
  if (o.max_latency_ms > 60000 || o.files_in_flight < 0 || o.files_in_flight > 64 || o.repeats < 1)
    return Status::InvalidArgument(
        "bench service: --max-latency-ms above 60000, --files-in-flight outside 0-64, or "
        "--repeats below 1");
  std::string dir = o.dir;
  if (dir.empty()) {
    char tmpl[] = "/tmp/fls-bench-service-XXXXXX";
    if (!::mkdtemp(tmpl)) return Status::IOError("cannot create a scratch directory under /tmp");
    dir = tmpl;
  }
  const std::string src = dir + "/src";
  fs::create_directories(src + "/many");
  fs::create_directories(src + "/single");
  // The same files for every mode, sizes spread evenly between the bounds.
  std::mt19937_64 rng(12345);
  std::vector<std::string> files;
  std::uint64_t total = 0;
  for (int i = 0; i < o.files; ++i) {
    const std::uint64_t size = o.min_size + rng() % (o.max_size - o.min_size + 1);
    files.push_back(src + "/many/f" + std::to_string(i));
    FLS_RETURN_IF_ERROR(WriteRandomFile(files.back(), size, rng));
    total += size;
  }
  const std::string large = src + "/large.bin";
  FLS_RETURN_IF_ERROR(WriteRandomFile(large, total, rng));
  for (int i = 0; i < o.single_jobs; ++i)
    FLS_RETURN_IF_ERROR(WriteRandomFile(src + "/single/s" + std::to_string(i), o.min_size, rng));
  // Settle the page cache so that the first mode is not charged for it.
  ::sync();

  service::ServiceConfig cfg;
  cfg.in_process_workers = o.workers;
  cfg.max_files_per_job = std::max(o.files, 1000);
  cfg.max_message_bytes = 64u << 20;
  cfg.store.backend = o.backend;
  if (o.stripe_bytes > 0) cfg.store.stripe_bytes = o.stripe_bytes;
  if (o.max_latency_ms >= 0) cfg.store.batch_max_latency_ms = o.max_latency_ms;
  if (o.files_in_flight > 0) cfg.store.batch_files_in_flight = o.files_in_flight;
  cfg.source_roots = {src};
  cfg.output_roots = {dir + "/out"};
  // A service with its own ports, journal and targets under dir/`store`.
  std::atomic<bool> stop{false}, ready{false};
  Status service_status;
  std::thread service;
  auto start_service = [&](const std::string& store) -> Status {
    cfg.client_endpoint = "tcp://127.0.0.1:" + std::to_string(FreePort());
    cfg.worker_endpoint = "tcp://127.0.0.1:" + std::to_string(FreePort());
    cfg.event_endpoint = "tcp://127.0.0.1:" + std::to_string(FreePort());
    cfg.journal_path = dir + "/" + store + "-journal.sqlite";
    cfg.store.targets.clear();
    for (int i = 0; i < 14; ++i)
      cfg.store.targets.push_back(
          {dir + "/" + store + "/t" + std::to_string(i), "d" + std::to_string(i)});
    stop = false;
    ready = false;
    service = std::thread([&] {
      service_status = service::RunService(cfg, service::CreateDefaultExecutor, stop, &ready);
    });
    for (int i = 0; i < 200 && !ready; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!ready)
      return Status::Internal("bench: the service did not start: " + service_status.ToString());
    return Status::Ok();
  };
  auto stop_service = [&]() -> Status {
    if (!service.joinable()) return Status::Ok();
    stop = true;
    service.join();
    return service_status;
  };
  auto finish = [&](Status s) {
    Status st = stop_service();
    if (s.ok() && !st.ok()) s = st;
    if (!o.keep) fs::remove_all(dir);
    return s;
  };
  auto row = [&](const std::string& mode, int n, std::uint64_t bytes, double seconds,
                 const std::vector<double>& lat_ms, const nlohmann::json& batching) {
    ServiceBenchRow r;
    r.mode = mode;
    r.files = n;
    r.bytes = bytes;
    r.seconds = seconds;
    r.files_per_s = seconds > 0 ? n / seconds : 0;
    r.gbps = seconds > 0 ? bytes / seconds / 1e9 : 0;
    r.p50_ms = Percentile(lat_ms, 0.50);
    r.p99_ms = Percentile(lat_ms, 0.99);
    if (batching.is_object()) {
      r.backend_calls = batching.value("backend_calls", std::uint64_t{0});
      r.files_per_call = batching.value("files_per_call", 0.0);
    }
    emit(r);
  };
  // One archive job of every file of src/many on a fresh service and store.
  auto batched = [&](const std::string& mode, const std::string& store, bool stop_after) -> Status {
    FLS_RETURN_IF_ERROR(start_service(store));
    ServiceClient client(cfg.client_endpoint);
    JobWatcher watcher(cfg.event_endpoint, &client);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the SUB connects
    nlohmann::json r;
    const auto t0 = Clock::now();
    FLS_RETURN_IF_ERROR(client.Call(
        "SUBMIT", {{"kind", "archive"}, {"paths", {src + "/many"}}, {"name_prefix", "batched/"}},
        60000, &r));
    const std::int64_t id = r["job_id"].get<std::int64_t>();
    std::map<std::int64_t, Clock::time_point> ended;
    FLS_RETURN_IF_ERROR(watcher.Wait({id}, &ended, 3600));
    const double sec = std::chrono::duration<double>(ended[id] - t0).count();
    nlohmann::json stats;
    FLS_RETURN_IF_ERROR(client.Call("STATS", nlohmann::json::object(), 10000, &stats));
    row(mode, o.files, total, sec, {sec * 1e3}, stats.value("batching", nlohmann::json::object()));
    return stop_after ? stop_service() : Status::Ok();
  };
  if (o.compare_coalescing) {
    const int latency = cfg.store.batch_max_latency_ms;
    for (int rep = 0; rep < o.repeats; ++rep) {
      cfg.store.batch_max_latency_ms = 0;
      Status s = batched("uncoalesced", "off-" + std::to_string(rep), true);
      cfg.store.batch_max_latency_ms = latency;
      if (s.ok()) s = batched("coalesced", "on-" + std::to_string(rep), true);
      if (!s.ok()) return finish(s);
    }
    return finish(Status::Ok());
  }

  // The other modes run on the same service and store after it.
  Status started = batched("batched", "targets", false);
  if (!started.ok()) return finish(started);
  ServiceClient client(cfg.client_endpoint);
  JobWatcher watcher(cfg.event_endpoint, &client);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the SUB connects

  auto submit = [&](const nlohmann::json& body, std::int64_t* id) -> Status {
    nlohmann::json r;
    FLS_RETURN_IF_ERROR(client.Call("SUBMIT", body, 60000, &r));
    *id = r["job_id"].get<std::int64_t>();
    return Status::Ok();
  };
  // per_file: one job per file, all submitted at once.
  {
    const int n = std::min(o.files, o.per_file_limit);
    std::uint64_t bytes = 0;
    std::set<std::int64_t> ids;
    std::map<std::int64_t, Clock::time_point> started, ended;
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      std::int64_t id = 0;
      const auto ts = Clock::now();
      Status s =
          submit({{"kind", "archive"}, {"paths", {files[i]}}, {"name_prefix", "per_file/"}}, &id);
      if (!s.ok()) return finish(s);
      ids.insert(id);
      started[id] = ts;
      bytes += fs::file_size(files[i]);
    }
    Status s = watcher.Wait(ids, &ended, 3600);
    if (!s.ok()) return finish(s);
    auto last = t0;
    std::vector<double> lat;
    for (auto id : ids) {
      last = std::max(last, ended[id]);
      lat.push_back(std::chrono::duration<double, std::milli>(ended[id] - started[id]).count());
    }
    row("per_file", n, bytes, std::chrono::duration<double>(last - t0).count(), lat, {});
  }
  // single_small: one small job at a time.
  {
    std::vector<double> lat;
    const auto t0 = Clock::now();
    for (int i = 0; i < o.single_jobs; ++i) {
      std::int64_t id = 0;
      const auto ts = Clock::now();
      Status s = submit({{"kind", "archive"},
                         {"paths", {src + "/single/s" + std::to_string(i)}},
                         {"name_prefix", "single/"}},
                        &id);
      std::map<std::int64_t, Clock::time_point> ended;
      if (s.ok()) s = watcher.Wait({id}, &ended, 600);
      if (!s.ok()) return finish(s);
      lat.push_back(std::chrono::duration<double, std::milli>(ended[id] - ts).count());
    }
    row("single_small", o.single_jobs, o.min_size * o.single_jobs,
        std::chrono::duration<double>(Clock::now() - t0).count(), lat, {});
  }
  // one_large: the batched files' total size as one file.
  {
    std::int64_t id = 0;
    const auto t0 = Clock::now();
    Status s = submit({{"kind", "archive"}, {"paths", {large}}, {"name_prefix", "large/"}}, &id);
    std::map<std::int64_t, Clock::time_point> ended;
    if (s.ok()) s = watcher.Wait({id}, &ended, 3600);
    if (!s.ok()) return finish(s);
    const double sec = std::chrono::duration<double>(ended[id] - t0).count();
    row("one_large", 1, total, sec, {sec * 1e3}, {});
  }
  return finish(Status::Ok());
}

}  // namespace fls::bench
