// The job service's client commands: `fls submit | jobs | job | cancel |
// close | stats | ping`. Each sends one request (docs/PROTOCOL.md) and prints
// the reply; `submit` builds its body as a job spec (fls/service/jobs.h).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "commands.h"
#include "fls/service/client.h"
#include "fls/service/config.h"
#include "fls/service/jobs.h"
#include "service_commands.h"
#include "store_args.h"

namespace fls::service {
namespace {

using cli::Fail;

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

// Waits for the job to end, drawing a progress bar on a terminal. Each
// STATUS asks the service to hold its reply until the job ends (`wait_ms`),
// so the end is seen as it happens, with no polling; a terminal's bar is
// redrawn at least every 250 ms. A service that answers at once (one older
// than `wait_ms`) is polled, backing off to 100 ms.
Status WaitForJob(ServiceClient& client, std::int64_t id, int timeout_ms, nlohmann::json* last) {
  using std::chrono::steady_clock;
  const bool tty = ::isatty(STDERR_FILENO);
  const int wait_ms = tty ? 250 : 2000;
  const auto start = steady_clock::now();
  while (true) {
    nlohmann::json j;
    const auto asked = steady_clock::now();
    const Status s =
        client.Call("STATUS", {{"job_id", id}, {"wait_ms", wait_ms}}, timeout_ms + wait_ms, &j);
    // Ctrl-C ends the wait for the reply too (EINTR): say so, not "no reply".
    if (StopRequested()) return Status::Cancelled("interrupted while waiting (the job goes on)");
    FLS_RETURN_IF_ERROR(s);
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
    if (IsEndedJobState(state)) {
      if (tty) std::fprintf(stderr, "\n");
      *last = std::move(j);
      return Status::Ok();
    }
    const auto now = steady_clock::now();
    if (now - asked < std::chrono::milliseconds(wait_ms / 2)) {
      const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - start);
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::min<long long>(100, 1 + waited.count() / 25)));
    }
  }
}

int JobExit(const nlohmann::json& j) {
  const std::string state = j.value("state", std::string());
  return state == "done" ? cli::kExitOk : cli::kExitFailure;
}

// fls submit
// `fls submit KIND NAMES... [options]`, parsed.
struct SubmitArgs {
  ClientArgs client;
  std::string kind;
  std::vector<std::string> names;
  std::string output, name_prefix;
  int k = 0, m = 0;
  bool deep = false, wait = false, force = false, override_retention = false;
  std::string retain_until;
  double min_dead = -1;

  // The job spec these arguments name; paths are made absolute here, as the
  // service resolves them against its own roots, not our working directory.
  Status ToSpec(JobSpec* spec) const {
    JobKind kind_value;
    FLS_RETURN_IF_ERROR(ParseJobKind(kind, &kind_value));
    switch (kind_value) {
      case JobKind::kArchive: {
        if (names.empty()) return Status::InvalidArgument("archive needs at least one FILE");
        ArchiveSpec s;
        for (const auto& n : names) s.paths.push_back(std::filesystem::absolute(n).string());
        if (!name_prefix.empty()) s.name_prefix = name_prefix;
        if (k) s.k = k;
        if (m) s.m = m;
        if (!retain_until.empty()) s.retain_until = retain_until;
        *spec = std::move(s);
        return Status::Ok();
      }
      case JobKind::kRestore: {
        if (names.empty() || output.empty())
          return Status::InvalidArgument("restore needs OBJECT... and --output DIR");
        *spec = RestoreSpec{names, std::filesystem::absolute(output).string()};
        return Status::Ok();
      }
      case JobKind::kVerify: {
        VerifySpec s;
        if (!names.empty()) s.objects = names;
        s.deep = deep;
        *spec = std::move(s);
        return Status::Ok();
      }
      case JobKind::kRepair: {
        RepairSpec s;
        if (!names.empty()) s.objects = names;
        *spec = std::move(s);
        return Status::Ok();
      }
      case JobKind::kStats:
        *spec = StatsSpec();
        return Status::Ok();
      case JobKind::kDelete: {
        if (names.empty()) return Status::InvalidArgument("delete needs at least one OBJECT");
        DeleteSpec s;
        s.objects = names;
        if (force) s.force = true;
        if (override_retention) s.override_retention = true;
        *spec = std::move(s);
        return Status::Ok();
      }
      case JobKind::kCompact: {
        CompactSpec s;
        if (min_dead >= 0) s.min_dead_percent = min_dead;
        *spec = std::move(s);
        return Status::Ok();
      }
    }
    return Status::InvalidArgument("job kind '" + kind + "'");
  }
};

void AddSubmitCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("submit", "Submit a job to the service");
  auto a = std::make_shared<SubmitArgs>();
  std::vector<std::string> kinds;
  std::string kinds_help;
  for (JobKind k : kAllJobKinds) {
    kinds.emplace_back(JobKindName(k));
    kinds_help += (kinds_help.empty() ? "" : " | ") + kinds.back();
  }
  AddClientOptions(cmd, &a->client);
  cmd->add_option("kind", a->kind, kinds_help)->required()->check(CLI::IsMember(kinds));
  cmd->add_option("names", a->names, "Files/directories (archive) or object names");
  cmd->add_option("-o,--output", a->output,
                  "restore: directory to restore into (under an output root)");
  cmd->add_option("--name-prefix", a->name_prefix, "archive: prefix of the object names");
  cmd->add_option("-k", a->k, "archive: data chunks (default: the service's)");
  cmd->add_option("-m", a->m, "archive: parity chunks (default: the service's)");
  cmd->add_flag("--deep", a->deep, "verify: recompute parity too");
  cmd->add_option("--retain-until", a->retain_until,
                  "archive: refuse deletes before this date (YYYY-MM-DD or RFC 3339)");
  cmd->add_flag("--force", a->force, "delete: a missing name is not an error");
  cmd->add_flag("--override-retention", a->override_retention,
                "delete: delete names under retention (logged by the service)");
  cmd->add_option("--min-dead", a->min_dead, "compact: dead share in % (default 50)");
  cmd->add_flag("--wait", a->wait, "Wait for the job to end, with a progress bar");
  cmd->callback([a, &exit_code] {
    std::unique_ptr<ServiceClient> client;
    Status s = a->client.Make(&client);
    JobSpec spec;
    if (s.ok()) s = a->ToSpec(&spec);
    nlohmann::json reply;
    if (s.ok()) s = client->Call("SUBMIT", JobSpecToJson(spec), a->client.timeout_ms, &reply);
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
void AddJobsCommand(CLI::App& app, int& exit_code) {
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
void AddJobCommand(CLI::App& app, int& exit_code) {
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
void AddCancelAndCloseCommands(CLI::App& app, int& exit_code) {
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
}

// fls stats / fls ping
void AddStatsAndPingCommands(CLI::App& app, int& exit_code) {
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
}

}  // namespace

void AddJobCommands(CLI::App& app, int& exit_code) {
  AddSubmitCommand(app, exit_code);
  AddJobsCommand(app, exit_code);
  AddJobCommand(app, exit_code);
  AddCancelAndCloseCommands(app, exit_code);
  AddStatsAndPingCommands(app, exit_code);
}

}  // namespace fls::service
