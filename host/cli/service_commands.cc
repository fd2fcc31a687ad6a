// The job service's own commands: `fls serve`, `fls worker`, `fls keygen`
// and `fls bench service`; the client commands are in job_commands.cc.
#include "service_commands.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "bench/service_bench.h"
#include "commands.h"
#include "fls/byte_size.h"
#include "fls/service/client.h"
#include "fls/service/config.h"
#include "fls/service/service.h"
#include "mount_service.h"
#include "store_args.h"

namespace fls::service {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

void InstallStopHandlers() {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

using cli::Fail;

Status SetLogLevel(const std::string& level) {
  auto l = spdlog::level::from_str(level);
  if (l == spdlog::level::off && level != "off")
    return Status::InvalidArgument("--log-level '" + level + "' (use debug, info, warn, error)");
  spdlog::set_level(l);
  return Status::Ok();
}

// fls serve
void AddServeCommand(CLI::App& app, int& exit_code, ExecutorFactory factory) {
  auto* cmd = app.add_subcommand("serve", "Run the job service (broker + in-process workers)");
  auto config = std::make_shared<std::string>("config/fls.yaml");
  auto level = std::make_shared<std::string>("info");
  cmd->add_option("--config", *config, "Service config (YAML; default config/fls.yaml)");
  cmd->add_option("--log-level", *level, "debug, info, warn, error (default info)");
  cmd->callback([=, &exit_code] {
    Status s = SetLogLevel(*level);
    ServiceConfig c;
    if (s.ok()) s = LoadServiceConfig(*config, &c);
    if (s.ok()) {
      InstallStopHandlers();
      // Mounted before the service listens, so that a bad mount fails the
      // start; unmounted however the service ends.
      cli::ServiceMount mount;
      if (c.mount.enabled()) s = mount.Start(c);
      if (s.ok()) s = RunService(c, factory, g_stop);
      mount.Stop();
    }
    exit_code = s.ok() ? cli::kExitOk : Fail("serve", s);
  });
}

// fls worker
void AddWorkerCommand(CLI::App& app, int& exit_code, ExecutorFactory factory) {
  auto* cmd = app.add_subcommand("worker", "Run workers that take jobs from a remote broker");
  auto o = std::make_shared<WorkerOptions>();
  auto threads = std::make_shared<int>(1);
  auto key_file = std::make_shared<std::string>();
  auto level = std::make_shared<std::string>("info");
  o->name = "worker-" + std::to_string(::getpid());
  cmd->add_option("--connect", o->endpoint, "The broker's worker endpoint")->required();
  cmd->add_option("--name", o->name, "Name shown in logs and job records");
  cmd->add_option("--threads", *threads, "Workers in this process (default 1)");
  cmd->add_option("--heartbeat-ms", o->heartbeat_ms, "Heartbeat interval (default 1000)");
  cmd->add_option("--liveness", o->liveness,
                  "Heartbeats of silence before the broker counts as dead (3-5)");
  cmd->add_option("--server-key", o->curve.server_public_key, "The broker's CurveZMQ public key");
  cmd->add_option("--key-file", *key_file, "This worker's CurveZMQ keys (from `fls keygen`)");
  cmd->add_option("--log-level", *level, "debug, info, warn, error (default info)");
  cmd->callback([=, &exit_code] {
    WorkerOptions opts = *o;
    opts.factory = factory;
    Status s = SetLogLevel(*level);
    if (s.ok() && (*threads < 1 || *threads > 256))
      s = Status::InvalidArgument("--threads must be 1 to 256");
    if (s.ok() && (opts.liveness < 3 || opts.liveness > 5))
      s = Status::InvalidArgument("--liveness must be 3 to 5");
    if (s.ok() && opts.heartbeat_ms < 10)
      s = Status::InvalidArgument("--heartbeat-ms must be >= 10");
    if (s.ok() && !key_file->empty())
      s = LoadCurveKeyFile(*key_file, &opts.curve.public_key, &opts.curve.secret_key);
    if (s.ok()) {
      InstallStopHandlers();
      s = RunWorkers(opts, *threads, g_stop);
    }
    exit_code = s.ok() ? cli::kExitOk : Fail("worker", s);
  });
}

// fls bench service (under the `bench` command registered before us)
void AddServiceBenchCommand(CLI::App& app, int& exit_code) {
  CLI::App* bench = nullptr;
  try {
    bench = app.get_subcommand("bench");
  } catch (const CLI::OptionNotFound&) {
  }
  if (!bench) return;
  auto* cmd = bench->add_subcommand(
      "service",
      "Job service throughput: many files as one job vs one job per file, single small-file "
      "latency, and one large file of the same total size (GB = 1e9 B of source data)");
  struct Args {
    bench::ServiceBenchOptions o;
    std::string min_size = "4K", max_size = "1M", stripe;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--files", a->o.files, "Files in the batched job (default 10000)");
  cmd->add_option("--min-size", a->min_size, "Smallest file (default 4K)");
  cmd->add_option("--max-size", a->max_size, "Largest file (default 1M)");
  cmd->add_option("--per-file-limit", a->o.per_file_limit,
                  "per_file mode: at most this many one-file jobs (default 500)");
  cmd->add_option("--single-jobs", a->o.single_jobs, "single_small mode: jobs (default 50)");
  cmd->add_option("--workers", a->o.workers, "In-process workers (default 2)");
  cmd->add_option("--backend", a->o.backend, "Codec backend (default auto)");
  cmd->add_option("--dir", a->o.dir, "Scratch directory (default: new under /tmp)");
  cmd->add_flag("--keep", a->o.keep, "Keep the scratch directory");
  cmd->add_option("--stripe", a->stripe,
                  "store.stripe of the service, a multiple of k = 10 (default 10M)");
  cmd->add_option("--max-latency-ms", a->o.max_latency_ms,
                  "batch.max_latency_ms of the service (default: the config default, 20; 0 "
                  "turns backend-call coalescing off)");
  cmd->add_option("--files-in-flight", a->o.files_in_flight,
                  "batch.files_in_flight of the service (default: the config default, 4)");
  cmd->add_flag("--compare-coalescing", a->o.compare_coalescing,
                "Measure only the batched job, with coalescing off and on, on fresh stores");
  cmd->add_option("--repeats", a->o.repeats,
                  "--compare-coalescing: rounds of (off, on), alternating (default 2)");
  cmd->add_flag("--json", a->json, "One JSON object per line");
  cmd->callback([a, &exit_code] {
    spdlog::set_level(spdlog::level::warn);
    Status s = ParseByteSize(a->min_size, &a->o.min_size).WithContext("--min-size");
    if (s.ok()) s = ParseByteSize(a->max_size, &a->o.max_size).WithContext("--max-size");
    if (s.ok() && !a->stripe.empty()) {
      s = ParseByteSize(a->stripe, &a->o.stripe_bytes).WithContext("--stripe");
      if (s.ok() && (a->o.stripe_bytes == 0 || a->o.stripe_bytes % 10 != 0))
        s = Status::InvalidArgument("--stripe " + a->stripe +
                                    ": must be a positive multiple of k = 10 bytes");
    }
    if (s.ok() && !a->json)
      std::printf("%-13s %7s %12s %9s %10s %8s %9s %9s %8s %10s\n", "mode", "files", "bytes",
                  "seconds", "files/s", "GB/s", "p50 ms", "p99 ms", "calls", "files/call");
    if (s.ok())
      s = bench::RunServiceBench(a->o, [&](const bench::ServiceBenchRow& r) {
        if (a->json)
          std::printf("%s\n", nlohmann::json{{"mode", r.mode},
                                             {"files", r.files},
                                             {"bytes", r.bytes},
                                             {"seconds", r.seconds},
                                             {"files_per_s", r.files_per_s},
                                             {"gbps", r.gbps},
                                             {"p50_ms", r.p50_ms},
                                             {"p99_ms", r.p99_ms},
                                             {"backend_calls", r.backend_calls},
                                             {"files_per_call", r.files_per_call}}
                                  .dump()
                                  .c_str());
        else
          std::printf("%-13s %7d %12llu %9.3f %10.1f %8.3f %9.1f %9.1f %8llu %10.2f\n",
                      r.mode.c_str(), r.files, static_cast<unsigned long long>(r.bytes), r.seconds,
                      r.files_per_s, r.gbps, r.p50_ms, r.p99_ms,
                      static_cast<unsigned long long>(r.backend_calls), r.files_per_call);
        std::fflush(stdout);
      });
    exit_code = s.ok() ? cli::kExitOk : Fail("bench service", s);
  });
}

// fls keygen
void AddKeygenCommand(CLI::App& app, int& exit_code) {
  auto* cmd =
      app.add_subcommand("keygen", "Make a CurveZMQ key pair (for security.curve and --key-file)");
  cmd->callback([&exit_code] {
    std::string pub, sec;
    Status s = GenerateCurveKeyPair(&pub, &sec);
    if (!s.ok()) {
      exit_code = Fail("keygen", s);
      return;
    }
    std::printf("public_key: \"%s\"\nsecret_key: \"%s\"\n", pub.c_str(), sec.c_str());
    exit_code = cli::kExitOk;
  });
}

}  // namespace

bool StopRequested() { return g_stop.load(); }

void AddServiceCommands(CLI::App& app, int& exit_code, ExecutorFactory factory) {
  AddServeCommand(app, exit_code, factory);
  AddWorkerCommand(app, exit_code, factory);
  AddJobCommands(app, exit_code);
  AddServiceBenchCommand(app, exit_code);
  AddKeygenCommand(app, exit_code);
}

}  // namespace fls::service
