// Test harness for the job service: temporary directories, real `fls serve`
// and `fls worker` processes on loopback ports, a client, and waits that are
// always bounded (a hung service fails the test, never hangs it).
// Thread-safety: one harness per test; ServiceClient per thread.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fls/service/client.h"
#include "fls/service/jobs.h"

#include "tests/test_paths.h"

namespace fls::service::testing {

namespace fs = std::filesystem;
using Json = nlohmann::json;

inline std::string MakeTempDir() {
  char tmpl[] = "/tmp/fls-svc-e2e-XXXXXX";
  return ::mkdtemp(tmpl);
}

// A TCP port the kernel just handed out (closed again: a small race with
// other processes, acceptable on a test machine).
inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFile(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

inline std::string RandomString(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// A child process with stdout and stderr in `log`.
struct Child {
  pid_t pid = -1;
  std::string log;

  static Child Spawn(const std::vector<std::string>& args, const std::string& log) {
    Child c;
    c.log = log;
    c.pid = ::fork();
    if (c.pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    return c;
  }
  // Exit code, 128+signal, or -1 when it did not end within timeout_ms (then
  // it is killed).
  int Wait(int timeout_ms) {
    if (pid <= 0) return -1;
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Kill(SIGKILL);
    return -1;
  }
  bool Running() {
    int status = 0;
    return pid > 0 && ::waitpid(pid, &status, WNOHANG) == 0;
  }
  void Kill(int sig) {
    if (pid <= 0) return;
    ::kill(pid, sig);
    if (sig == SIGKILL) {
      ::waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
};

// Runs `fls ARGS...` to completion; returns the exit code and the output.
inline int RunFls(const std::vector<std::string>& args, std::string* output,
                  int timeout_ms = 60000) {
  static int n = 0;
  const std::string log =
      "/tmp/fls-svc-run-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
  std::vector<std::string> argv = {FLS_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  Child c = Child::Spawn(argv, log);
  const int rc = c.Wait(timeout_ms);
  if (output) *output = ReadFile(log);
  fs::remove(log);
  return rc;
}

struct ServiceOptions {
  int in_process_workers = 2;
  int heartbeat_ms = 250;
  std::string extra_yaml;    // appended (e.g. a security section)
  std::string service_yaml;  // more `service:` keys, each "  key: value\n"
  std::string max_message_bytes = "64K";
  int pack_max_files = 16;          // files per pack (batch.max_files)
  std::string batch_yaml;           // more `batch:` keys, each "  key: value\n"
  std::string log_level = "debug";  // of `fls serve` and `fls worker`
};

class ServiceHarness {
 public:
  explicit ServiceHarness(ServiceOptions o = {}) : options_(std::move(o)) {
    dir_ = MakeTempDir();
    client_port_ = FreePort();
    worker_port_ = FreePort();
    event_port_ = FreePort();
    fs::create_directories(src());
    fs::create_directories(out());
    WriteConfig();
  }
  ~ServiceHarness() {
    for (auto& w : workers_) w.Kill(SIGKILL);
    service_.Kill(SIGKILL);
    if (!::testing::Test::HasFailure()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    } else {
      std::fprintf(stderr, "service files kept in %s\n--- service log ---\n%s\n", dir_.c_str(),
                   ReadFile(dir_ + "/serve.log").substr(0, 20000).c_str());
    }
  }

  std::string log() const { return ReadFile(dir_ + "/serve.log"); }
  std::string src() const { return dir_ + "/src"; }
  std::string out() const { return dir_ + "/out"; }
  const std::string& dir() const { return dir_; }
  std::string config() const { return dir_ + "/fls.yaml"; }
  std::string client_endpoint() const { return "tcp://127.0.0.1:" + std::to_string(client_port_); }
  std::string worker_endpoint() const { return "tcp://127.0.0.1:" + std::to_string(worker_port_); }
  std::string event_endpoint() const { return "tcp://127.0.0.1:" + std::to_string(event_port_); }
  std::vector<std::string> targets() const {
    std::vector<std::string> t;
    for (int i = 0; i < 6; ++i) t.push_back(dir_ + "/targets/t" + std::to_string(i));
    return t;
  }

  void WriteConfig() {
    std::ostringstream y;
    y << "service:\n"
      << "  client_endpoint: " << client_endpoint() << "\n"
      << "  worker_endpoint: " << worker_endpoint() << "\n"
      << "  event_endpoint: " << event_endpoint() << "\n"
      << "  in_process_workers: " << options_.in_process_workers << "\n"
      << "  heartbeat_ms: " << options_.heartbeat_ms << "\n"
      << "  heartbeat_liveness: 3\n"
      << "  journal: " << dir_ << "/journal.sqlite\n"
      << "  max_message_bytes: " << options_.max_message_bytes << "\n"
      << "  max_files_per_job: 5000\n"
      << options_.service_yaml << "store:\n  targets:\n";
    int i = 0;
    for (const auto& t : targets()) y << "    - {path: " << t << ", domain: d" << i++ << "}\n";
    y << "  k: 4\n  m: 2\n  stripe: 256K\n"
      << "batch:\n  max_files: " << options_.pack_max_files << "\n  small_file_threshold: 64K\n"
      << "  pack_size: 1M\n"
      << options_.batch_yaml << "roots:\n  source: [" << src() << "]\n  output: [" << out() << "]\n"
      << options_.extra_yaml;
    WriteFile(config(), y.str());
  }

  // Starts `fls serve` and waits until it answers PING. FreePort's ports
  // can be taken by another process before `fls serve` binds them (tests run
  // two at a time; seen once under ASan): a start that fails to bind goes
  // again on new ports, up to 5 times.
  void Start(const CurveClientKeys& keys = {}) {
    const std::string log = dir_ + "/serve.log";
    for (int attempt = 0; attempt < 5; ++attempt) {
      std::error_code ec;
      const std::uintmax_t logged = fs::exists(log, ec) ? fs::file_size(log, ec) : 0;
      service_ = Child::Spawn(
          {FLS_BINARY, "serve", "--config", config(), "--log-level", options_.log_level}, log);
      if (!StartFailedToBind(logged, keys)) break;
      client_port_ = FreePort();
      worker_port_ = FreePort();
      event_port_ = FreePort();
      WriteConfig();
    }
    WaitForPing(keys);
  }
  // Waits (bounded) for `fls serve` to answer or end; true when it ended
  // saying that an address was in use (its log from `logged` bytes on).
  bool StartFailedToBind(std::uintmax_t logged, const CurveClientKeys& keys) {
    for (int i = 0; i < 100; ++i) {
      int status = 0;
      if (::waitpid(service_.pid, &status, WNOHANG) == service_.pid) {
        service_.pid = -1;
        return ReadFile(dir_ + "/serve.log").substr(logged).find("Address already in use") !=
               std::string::npos;
      }
      ServiceClient c(client_endpoint(), keys);
      Json r;
      if (c.Call("PING", Json::object(), 200, &r).ok()) return false;
    }
    return false;
  }
  void WaitForPing(const CurveClientKeys& keys = {}) {
    for (int i = 0; i < 100; ++i) {
      ServiceClient c(client_endpoint(), keys);
      Json r;
      if (c.Call("PING", Json::object(), 200, &r).ok()) return;
    }
    FAIL() << "the service did not answer PING within 20 s";
  }
  Child& service() { return service_; }
  // Starts an `fls worker --connect` process.
  Child& StartWorker(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {FLS_BINARY,       "worker",
                                     "--connect",      worker_endpoint(),
                                     "--name",         name,
                                     "--heartbeat-ms", std::to_string(options_.heartbeat_ms),
                                     "--log-level",    options_.log_level};
    args.insert(args.end(), extra.begin(), extra.end());
    workers_.push_back(Child::Spawn(args, dir_ + "/worker-" + name + ".log"));
    return workers_.back();
  }

  // Stops the `fls worker` processes (SIGTERM: they say DISCONNECT).
  void StopWorkers() {
    for (auto& w : workers_) {
      w.Kill(SIGTERM);
      w.Wait(20000);
    }
    workers_.clear();
  }

  ServiceClient Client(CurveClientKeys keys = {}) { return ServiceClient(client_endpoint(), keys); }

  // Calls, asserting an OK reply.
  Json Call(const std::string& verb, const Json& body) {
    ServiceClient c = Client();
    Json r;
    Status s = c.Call(verb, body, 10000, &r);
    EXPECT_TRUE(s.ok()) << verb << " " << body.dump() << ": " << s.ToString();
    return r;
  }
  std::int64_t Submit(const Json& body) {
    Json r = Call("SUBMIT", body);
    return r.value("job_id", std::int64_t{0});
  }
  // STATUS, held by the service until the job ends (wait_ms, at most 2 s a
  // call), until it ends or `timeout_ms` passes (a failure).
  Json WaitJob(std::int64_t id, int timeout_ms = 60000, bool files = false) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    Json r;
    while (std::chrono::steady_clock::now() < end) {
      ServiceClient c = Client();
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      const int wait_ms = static_cast<int>(std::clamp<long long>(left.count(), 0, 2000));
      if (c.Call("STATUS", {{"job_id", id}, {"files", files}, {"wait_ms", wait_ms}}, 5000 + wait_ms,
                 &r)
              .ok()) {
        if (IsEndedJobState(r.value("state", std::string()))) return r;
        continue;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "job " << id << " did not end within " << timeout_ms << " ms: " << r.dump();
    return r;
  }
  // Polls until `pred(status)` holds.
  template <typename Pred>
  Json WaitUntil(std::int64_t id, Pred pred, int timeout_ms = 30000) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    Json r;
    while (std::chrono::steady_clock::now() < end) {
      ServiceClient c = Client();
      if (c.Call("STATUS", {{"job_id", id}}, 5000, &r).ok() && pred(r)) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "job " << id << ": condition not met within " << timeout_ms
                  << " ms: " << r.dump();
    return r;
  }

  // Makes `n` files of varied small sizes under src()/name; returns path -> bytes.
  std::map<std::string, std::string> MakeFiles(const std::string& name, int n, std::size_t max_size,
                                               std::uint64_t seed) {
    std::map<std::string, std::string> files;
    std::mt19937_64 rng(seed);
    for (int i = 0; i < n; ++i) {
      const std::string path = src() + "/" + name + "/f" + std::to_string(i);
      const std::string bytes = RandomString(rng() % (max_size + 1), seed * 1000 + i);
      WriteFile(path, bytes);
      files[path] = bytes;
    }
    return files;
  }

  // Restores every archived file of `files` into a fresh directory and
  // compares the bytes.
  void ExpectRestoresBitExact(const std::map<std::string, std::string>& files,
                              const std::string& out_name) {
    Json objects = Json::array();
    for (const auto& [path, bytes] : files) objects.push_back(path.substr(1));
    const std::string out_dir = out() + "/" + out_name;
    const std::int64_t id =
        Submit({{"kind", "restore"}, {"objects", objects}, {"output", out_dir}});
    ASSERT_GT(id, 0);
    Json r = WaitJob(id, 120000);
    ASSERT_EQ(r.value("state", std::string()), "done") << r.dump();
    for (const auto& [path, bytes] : files) {
      const std::string got = ReadFile(out_dir + path);
      ASSERT_EQ(got.size(), bytes.size()) << path;
      ASSERT_TRUE(got == bytes) << path << " differs after restore";
    }
  }

 private:
  ServiceOptions options_;
  std::string dir_;
  int client_port_, worker_port_, event_port_;
  Child service_;
  std::vector<Child> workers_;
};

}  // namespace fls::service::testing
