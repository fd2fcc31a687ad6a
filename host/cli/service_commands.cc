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

int Fail(const char* cmd, const Status& s) {
  std::fprintf(stderr, "fls %s: %s\n", cmd, s.ToString().c_str());
  return cli::ExitCodeFor(s);
}

Status SetLogLevel(const std::string& level) {
  auto l = spdlog::level::from_str(level);
  if (l == spdlog::level::off && level != "off")
    return Status::InvalidArgument("--log-level '" + level + "' (use debug, info, warn, error)");
  spdlog::set_level(l);
  return Status::Ok();
}

// Options every client command shares.
struct ClientArgs {
  std::string endpoint;
  std::string config;
  std::string server_key;
  std::string key_file;
  int timeout_ms = 10000;
  bool json = false;

  Status Make(std::unique_ptr<ServiceClient>* client) const {
    std::string ep = endpoint;
    CurveClientKeys keys;
    keys.server_public_key = server_key;
    if (!config.empty()) {
      ServiceConfig c;
      FLS_RETURN_IF_ERROR(LoadServiceConfig(config, &c));
      if (ep.empty()) ep = c.client_endpoint;
      if (keys.server_public_key.empty() && c.curve.enabled)
        keys.server_public_key = c.curve.server_public_key;
    }
    if (ep.empty()) {
      const char* env = std::getenv("FLS_ENDPOINT");
      ep = env && *env ? env : "tcp://127.0.0.1:5555";
    }
    if (!key_file.empty()) {
      FLS_RETURN_IF_ERROR(LoadCurveKeyFile(key_file, &keys.public_key, &keys.secret_key));
      if (keys.server_public_key.empty())
        return Status::InvalidArgument("--key-file needs --server-key (or --config) too");
    }
    *client = std::make_unique<ServiceClient>(ep, keys);
    return Status::Ok();
  }
};

void AddClientOptions(CLI::App* cmd, ClientArgs* a) {
  cmd->add_option("--endpoint", a->endpoint,
                  "Service client endpoint (default $FLS_ENDPOINT or tcp://127.0.0.1:5555)");
  cmd->add_option("--config", a->config,
                  "Read the endpoint and server key from this service config");
  cmd->add_option("--server-key", a->server_key, "The service's CurveZMQ public key (Z85)");
  cmd->add_option("--key-file", a->key_file, "This client's CurveZMQ keys (from `fls keygen`)");
  cmd->add_option("--timeout-ms", a->timeout_ms, "How long to wait for each reply (default 10000)");
  cmd->add_flag("--json", a->json, "Print JSON");
}

std::string Human(double bytes) {
  const char* u[] = {"B", "KB", "MB", "GB", "TB"};
  int i = 0;
  while (bytes >= 1000 && i < 4) {
    bytes /= 1000;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, i ? "%.1f %s" : "%.0f %s", bytes, u[i]);
  return buf;
}

void PrintJob(const nlohmann::json& j) {
  std::printf("job %lld  %-9s %-8s items %lld/%lld done, %lld failed  %s", j.value("job_id", 0LL),
              j.value("state", std::string()).c_str(), j.value("kind", std::string()).c_str(),
              j.value("items_done", 0LL), j.value("items_total", 0LL), j.value("items_failed", 0LL),
              Human(j.value("bytes", 0.0)).c_str());
  const std::string err = j.value("error", std::string());
  if (!err.empty()) std::printf("  (%s)", err.c_str());
  std::printf("\n");
  if (j.contains("items"))
    for (const auto& i : j["items"]) {
      std::printf("  %-7s %s", i.value("state", std::string()).c_str(),
                  i.value("name", std::string()).c_str());
      if (i.contains("error")) std::printf("  %s", i["error"].get<std::string>().c_str());
      std::printf("\n");
    }
}

bool Finished(const std::string& state) {
  return state == "done" || state == "failed" || state == "cancelled";
}

// Polls STATUS until the job ends, drawing a progress bar on a terminal.
Status WaitForJob(ServiceClient& client, std::int64_t id, int timeout_ms, nlohmann::json* last) {
  const bool tty = ::isatty(STDERR_FILENO);
  while (true) {
    nlohmann::json j;
    FLS_RETURN_IF_ERROR(client.Call("STATUS", {{"job_id", id}}, timeout_ms, &j));
    const std::string state = j.value("state", std::string());
    if (tty) {
      const long long total = j.value("items_total", 0LL),
                      done = j.value("items_done", 0LL) + j.value("items_failed", 0LL);
      const int width = 30;
      const int fill = total > 0 ? static_cast<int>(width * done / total) : 0;
      std::fprintf(stderr, "\rjob %lld [%-*s] %lld/%lld items %s %-9s", static_cast<long long>(id),
                   width, std::string(fill, '#').c_str(), done, total,
                   Human(j.value("bytes", 0.0)).c_str(), state.c_str());
      std::fflush(stderr);
    }
    if (Finished(state)) {
      if (tty) std::fprintf(stderr, "\n");
      *last = std::move(j);
      return Status::Ok();
    }
    if (g_stop) return Status::Cancelled("interrupted while waiting (the job goes on)");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int JobExit(const nlohmann::json& j) {
  const std::string state = j.value("state", std::string());
  return state == "done" ? cli::kExitOk : cli::kExitFailure;
}

}  // namespace

void AddServiceCommands(CLI::App& app, int& exit_code, ExecutorFactory factory) {
  // fls serve
  {
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
        s = RunService(c, factory, g_stop);
      }
      exit_code = s.ok() ? cli::kExitOk : Fail("serve", s);
    });
  }
  // fls worker
  {
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
  // fls submit
  {
    auto* cmd = app.add_subcommand("submit", "Submit a job to the service");
    struct Args {
      ClientArgs client;
      std::string kind;
      std::vector<std::string> names;
      std::string output, name_prefix;
      int k = 0, m = 0;
      bool deep = false, wait = false;
    };
    auto a = std::make_shared<Args>();
    AddClientOptions(cmd, &a->client);
    cmd->add_option("kind", a->kind, "archive | restore | verify | repair | stats")
        ->required()
        ->check(CLI::IsMember({"archive", "restore", "verify", "repair", "stats"}));
    cmd->add_option("names", a->names, "Files/directories (archive) or object names");
    cmd->add_option("-o,--output", a->output,
                    "restore: directory to restore into (under an output root)");
    cmd->add_option("--name-prefix", a->name_prefix, "archive: prefix of the object names");
    cmd->add_option("-k", a->k, "archive: data chunks (default: the service's)");
    cmd->add_option("-m", a->m, "archive: parity chunks (default: the service's)");
    cmd->add_flag("--deep", a->deep, "verify: recompute parity too");
    cmd->add_flag("--wait", a->wait, "Wait for the job to end, with a progress bar");
    cmd->callback([a, &exit_code] {
      std::unique_ptr<ServiceClient> client;
      Status s = a->client.Make(&client);
      nlohmann::json body = {{"kind", a->kind}};
      if (s.ok()) {
        if (a->kind == "archive") {
          if (a->names.empty()) s = Status::InvalidArgument("archive needs at least one FILE");
          nlohmann::json paths = nlohmann::json::array();
          for (const auto& n : a->names) paths.push_back(std::filesystem::absolute(n).string());
          body["paths"] = paths;
          if (!a->name_prefix.empty()) body["name_prefix"] = a->name_prefix;
          if (a->k) body["k"] = a->k;
          if (a->m) body["m"] = a->m;
        } else if (a->kind == "restore") {
          if (a->names.empty() || a->output.empty())
            s = Status::InvalidArgument("restore needs OBJECT... and --output DIR");
          body["objects"] = a->names;
          body["output"] = std::filesystem::absolute(a->output).string();
        } else if (a->kind == "verify" || a->kind == "repair") {
          if (!a->names.empty()) body["objects"] = a->names;
          if (a->kind == "verify") body["deep"] = a->deep;
        }
      }
      nlohmann::json reply;
      if (s.ok()) s = client->Call("SUBMIT", body, a->client.timeout_ms, &reply);
      if (!s.ok()) {
        exit_code = Fail("submit", s);
        return;
      }
      const std::int64_t id = reply["job_id"].get<std::int64_t>();
      if (!a->wait) {
        if (a->client.json)
          std::printf("%s\n", reply.dump().c_str());
        else
          std::printf("job %lld queued (%lld items)\n", static_cast<long long>(id),
                      reply.value("items", 0LL));
        exit_code = cli::kExitOk;
        return;
      }
      nlohmann::json last;
      s = WaitForJob(*client, id, a->client.timeout_ms, &last);
      if (!s.ok()) {
        exit_code = Fail("submit", s);
        return;
      }
      if (a->client.json)
        std::printf("%s\n", last.dump().c_str());
      else
        PrintJob(last);
      exit_code = JobExit(last);
    });
  }
  // fls jobs
  {
    auto* cmd = app.add_subcommand("jobs", "List the service's jobs, newest first");
    auto a = std::make_shared<ClientArgs>();
    auto state = std::make_shared<std::string>();
    auto limit = std::make_shared<int>(50);
    AddClientOptions(cmd, a.get());
    cmd->add_option("--state", *state, "Only jobs in this state");
    cmd->add_option("--limit", *limit, "At most this many (default 50)");
    cmd->callback([=, &exit_code] {
      std::unique_ptr<ServiceClient> client;
      Status s = a->Make(&client);
      nlohmann::json body = {{"limit", *limit}}, reply;
      if (!state->empty()) body["state"] = *state;
      if (s.ok()) s = client->Call("LIST", body, a->timeout_ms, &reply);
      if (!s.ok()) {
        exit_code = Fail("jobs", s);
        return;
      }
      if (a->json)
        std::printf("%s\n", reply.dump().c_str());
      else
        for (const auto& j : reply["jobs"]) PrintJob(j);
      exit_code = cli::kExitOk;
    });
  }
  // fls job ID
  {
    auto* cmd = app.add_subcommand("job", "Show one job (--wait: until it ends)");
    auto a = std::make_shared<ClientArgs>();
    auto id = std::make_shared<std::int64_t>(0);
    auto wait = std::make_shared<bool>(false);
    auto files = std::make_shared<bool>(false);
    AddClientOptions(cmd, a.get());
    cmd->add_option("id", *id, "Job id")->required();
    cmd->add_flag("--wait", *wait, "Wait for the job to end, with a progress bar");
    cmd->add_flag("--files", *files, "List every item with its result");
    cmd->callback([=, &exit_code] {
      std::unique_ptr<ServiceClient> client;
      Status s = a->Make(&client);
      nlohmann::json reply;
      if (s.ok() && *wait) s = WaitForJob(*client, *id, a->timeout_ms, &reply);
      if (s.ok())
        s = client->Call("STATUS", {{"job_id", *id}, {"files", *files}}, a->timeout_ms, &reply);
      if (!s.ok()) {
        exit_code = Fail("job", s);
        return;
      }
      if (a->json)
        std::printf("%s\n", reply.dump().c_str());
      else
        PrintJob(reply);
      exit_code = *wait ? JobExit(reply) : cli::kExitOk;
    });
  }
  // fls cancel ID / fls close ID
  for (const char* verb : {"cancel", "close"}) {
    const bool cancel = std::string(verb) == "cancel";
    auto* cmd = app.add_subcommand(
        verb, cancel ? "Cancel a queued or running job" : "Forget a finished job (Titanic CLOSE)");
    auto a = std::make_shared<ClientArgs>();
    auto id = std::make_shared<std::int64_t>(0);
    AddClientOptions(cmd, a.get());
    cmd->add_option("id", *id, "Job id")->required();
    cmd->callback([=, &exit_code] {
      std::unique_ptr<ServiceClient> client;
      Status s = a->Make(&client);
      nlohmann::json reply;
      if (s.ok())
        s = client->Call(cancel ? "CANCEL" : "CLOSE", {{"job_id", *id}}, a->timeout_ms, &reply);
      if (!s.ok()) {
        exit_code = Fail(verb, s);
        return;
      }
      std::printf("%s\n", reply.dump().c_str());
      exit_code = cli::kExitOk;
    });
  }
  // fls stats / fls ping
  for (const char* verb : {"stats", "ping"}) {
    const bool stats = std::string(verb) == "stats";
    auto* cmd =
        app.add_subcommand(verb, stats ? "Service statistics: jobs by state, GB/s per backend, "
                                         "queue depth, workers"
                                       : "Check that the service answers");
    auto a = std::make_shared<ClientArgs>();
    AddClientOptions(cmd, a.get());
    cmd->callback([=, &exit_code] {
      std::unique_ptr<ServiceClient> client;
      Status s = a->Make(&client);
      nlohmann::json reply;
      if (s.ok())
        s = client->Call(stats ? "STATS" : "PING", nlohmann::json::object(), a->timeout_ms, &reply);
      if (!s.ok()) {
        exit_code = Fail(verb, s);
        return;
      }
      if (a->json || !stats) {
        std::printf("%s\n", reply.dump().c_str());
      } else {
        std::printf("jobs:");
        for (const auto& [k, v] : reply["jobs"].items())
          std::printf(" %s %lld", k.c_str(), v.get<long long>());
        std::printf("\nqueue depth %lld, workers %lld (%lld busy)\n",
                    reply.value("queue_depth", 0LL), reply.value("workers", 0LL),
                    reply.value("workers_busy", 0LL));
        for (const auto& [k, v] : reply["backends"].items())
          std::printf("backend %-10s %lld jobs, %s in %.2f s: %.3f GB/s\n", k.c_str(),
                      v.value("jobs", 0LL), Human(v.value("bytes", 0.0)).c_str(),
                      v.value("seconds", 0.0), v.value("gbps", 0.0));
      }
      exit_code = cli::kExitOk;
    });
  }
  // fls bench service (under the `bench` command registered before us)
  CLI::App* bench = nullptr;
  try {
    bench = app.get_subcommand("bench");
  } catch (const CLI::OptionNotFound&) {
  }
  if (bench) {
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
                        r.mode.c_str(), r.files, static_cast<unsigned long long>(r.bytes),
                        r.seconds, r.files_per_s, r.gbps, r.p50_ms, r.p99_ms,
                        static_cast<unsigned long long>(r.backend_calls), r.files_per_call);
          std::fflush(stdout);
        });
      exit_code = s.ok() ? cli::kExitOk : Fail("bench service", s);
    });
  }
  // fls keygen
  {
    auto* cmd = app.add_subcommand("keygen",
                                   "Make a CurveZMQ key pair (for security.curve and --key-file)");
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
}

}  // namespace fls::service
