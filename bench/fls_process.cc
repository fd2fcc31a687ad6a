#include "fls_process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "fls/service/client.h"
#include "fls/service/jobs.h"

extern char** environ;

namespace fls::bench {
namespace {

using Clock = std::chrono::steady_clock;

// The command line for messages, cut short when it lists many files.
std::string Join(const std::vector<std::string>& args) {
  std::string s;
  for (const std::string& a : args) {
    if (s.size() > 300) return s + " ... (" + std::to_string(args.size()) + " arguments)";
    s += (s.empty() ? "" : " ") + a;
  }
  return s;
}

// Waits for `pid` to exit within `timeout_ms` (-1: forever), returning its
// wait status and resource usage. With a pidfd the wait ends the moment the
// child exits; without one it polls every millisecond.
bool WaitChild(pid_t pid, int timeout_ms, int* status, rusage* usage) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  while (true) {
    const pid_t got = ::wait4(pid, status, WNOHANG, usage);
    if (got == pid) {
      if (pidfd >= 0) ::close(pidfd);
      return true;
    }
    if (got < 0 && errno != EINTR) break;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (timeout_ms >= 0 && left <= 0) break;
    if (pidfd >= 0) {
      pollfd p = {pidfd, POLLIN, 0};
      ::poll(&p, 1, timeout_ms < 0 ? 1000 : static_cast<int>(std::min<long long>(left, 1000)));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  return false;
}

int ExitCodeOf(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A TCP port on loopback that the kernel just handed out (closed again: a
// small race with other processes, as in the service test harness).
Status FreePort(int* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status::IOError(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  if (!ok) return Status::IOError("cannot bind a loopback port");
  *port = ntohs(a.sin_port);
  return Status::Ok();
}

}  // namespace

std::string SelfExecutable() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("fls");
}

std::string ReadHead(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string s(max_bytes, '\0');
  in.read(s.data(), static_cast<std::streamsize>(max_bytes));
  s.resize(static_cast<std::size_t>(in.gcount()));
  return s;
}

double LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double l = -1;
  in >> l;
  return in ? l : -1;
}

FlsRunner::FlsRunner(std::string fls, std::string log_dir, int timeout_s)
    : fls_(std::move(fls)), log_dir_(std::move(log_dir)), timeout_s_(timeout_s) {}

Status FlsRunner::Start(const std::vector<std::string>& args, const std::string& out,
                        const std::string& err, pid_t* pid) const {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (err == out)
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  else
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> argv_s = {fls_};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = ::posix_spawn(pid, fls_.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    return Status::IOError("cannot start " + fls_ + ": " + std::strerror(rc) + " (fls " +
                           Join(args) + ")");
  return Status::Ok();
}

Status FlsRunner::Spawn(const std::vector<std::string>& args, const std::string& log,
                        pid_t* pid) const {
  return Start(args, log, log, pid);
}

Status FlsRunner::Run(const std::vector<std::string>& args, const std::string& tag,
                      CommandResult* r, bool allow_failure) const {
  r->out_path = log_dir_ + "/" + tag + ".out";
  r->err_path = log_dir_ + "/" + tag + ".err";
  pid_t pid = -1;
  const auto t0 = Clock::now();
  FLS_RETURN_IF_ERROR(Start(args, r->out_path, r->err_path, &pid));
  int status = 0;
  rusage usage = {};
  if (!WaitChild(pid, timeout_s_ * 1000, &status, &usage)) {
    ::kill(pid, SIGKILL);
    WaitChild(pid, -1, &status, &usage);
    return Status::IOError("`fls " + Join(args) + "` ran past " + std::to_string(timeout_s_) +
                           " s and was killed");
  }
  r->seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r->cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                   static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  r->exit_code = ExitCodeOf(status);
  if (r->exit_code != 0 && !allow_failure)
    return Status::IOError("`fls " + Join(args) + "` exited " + std::to_string(r->exit_code) +
                           ": " + ReadHead(r->err_path, 2000));
  return Status::Ok();
}

ServiceProcess::~ServiceProcess() { Stop(); }

Status ServiceProcess::Start(const std::vector<std::string>& targets, int k, int m,
                             const std::string& source_root, const std::string& output_root) {
  int client = 0, worker = 0, event = 0;
  FLS_RETURN_IF_ERROR(FreePort(&client));
  FLS_RETURN_IF_ERROR(FreePort(&worker));
  FLS_RETURN_IF_ERROR(FreePort(&event));
  config_ = dir_ + "/fls-service.yaml";
  client_endpoint_ = "tcp://127.0.0.1:" + std::to_string(client);
  std::ostringstream y;
  y << "service:\n"
    << "  client_endpoint: tcp://127.0.0.1:" << client << "\n"
    << "  worker_endpoint: tcp://127.0.0.1:" << worker << "\n"
    << "  event_endpoint: tcp://127.0.0.1:" << event << "\n"
    << "  journal: " << dir_ << "/journal.sqlite\n"
    << "store:\n  targets:\n";
  for (std::size_t i = 0; i < targets.size(); ++i)
    y << "    - {path: " << targets[i] << ", domain: d" << i << "}\n";
  y << "  k: " << k << "\n  m: " << m << "\n"
    << "roots:\n  source: [" << source_root << "]\n  output: [" << output_root << "]\n";
  {
    std::ofstream f(config_);
    f << y.str();
    if (!f.flush()) return Status::IOError("cannot write " + config_);
  }
  FLS_RETURN_IF_ERROR(runner_.Spawn({"serve", "--config", config_, "--log-level", "warn"},
                                    dir_ + "/serve.log", &pid_));
  // Ready when `fls ping` gets an answer; bounded, and a service that exits
  // (a bad config, a port taken) is reported with its log.
  for (int i = 0; i < 100; ++i) {
    int status = 0;
    rusage usage = {};
    if (WaitChild(pid_, 0, &status, &usage)) {
      pid_ = -1;
      return Status::IOError("`fls serve --config " + config_ + "` exited " +
                             std::to_string(ExitCodeOf(status)) + ": " +
                             ReadHead(dir_ + "/serve.log", 2000));
    }
    CommandResult r;
    FLS_RETURN_IF_ERROR(runner_.Run({"ping", "--config", config_, "--timeout-ms", "300"}, "ping",
                                    &r, /*allow_failure=*/true));
    if (r.exit_code == 0) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::IOError("`fls serve --config " + config_ + "` did not answer ping within 40 s");
}

Status ServiceProcess::Stop() {
  if (pid_ <= 0) return Status::Ok();
  ::kill(pid_, SIGTERM);
  int status = 0;
  rusage usage = {};
  Status s;
  if (!WaitChild(pid_, 30000, &status, &usage)) {
    ::kill(pid_, SIGKILL);
    WaitChild(pid_, -1, &status, &usage);
    s = Status::IOError("`fls serve` did not stop within 30 s of SIGTERM; killed");
  } else if (ExitCodeOf(status) != 0) {
    s = Status::IOError("`fls serve` exited " + std::to_string(ExitCodeOf(status)) + ": " +
                        ReadHead(dir_ + "/serve.log", 2000));
  }
  pid_ = -1;
  return s;
}

Status ServiceProcess::SubmitAndWait(const std::string& kind, const std::vector<std::string>& args,
                                     const std::string& tag, CommandResult* r,
                                     nlohmann::json* job) const {
  std::vector<std::string> a = {"submit", kind};
  a.insert(a.end(), args.begin(), args.end());
  for (const char* s : {"--config", config_.c_str(), "--wait", "--json", "--timeout-ms", "60000"})
    a.push_back(s);
  FLS_RETURN_IF_ERROR(runner_.Run(a, tag, r, /*allow_failure=*/true));
  const std::string out = ReadHead(r->out_path, 1 << 20);
  const auto j = nlohmann::json::parse(out, nullptr, false);
  const bool parsed = j.is_object();
  if (r->exit_code == 0 && parsed && j.value("state", "") == "done" &&
      j.value("items_failed", 0LL) == 0) {
    if (job != nullptr) *job = j;
    return Status::Ok();
  }
  return Status::IOError("`fls submit " + kind + "` job did not end done (exit " +
                         std::to_string(r->exit_code) + "): " + out.substr(0, 2000) +
                         ReadHead(r->err_path, 2000));
}

Status ServiceProcess::SubmitOverProtocol(const nlohmann::json& spec, double* seconds,
                                          nlohmann::json* job) const {
  service::ServiceClient client(client_endpoint_);
  // Connected before the clock starts, as a client program would be.
  nlohmann::json reply;
  FLS_RETURN_IF_ERROR(client.Call("PING", nlohmann::json::object(), 10000, &reply));
  const auto t0 = std::chrono::steady_clock::now();
  FLS_RETURN_IF_ERROR(client.Call("SUBMIT", spec, 60000, &reply));
  const std::int64_t id = reply.value("job_id", std::int64_t{0});
  for (int i = 0; i < 600; ++i) {  // 600 x 2 s: bounded
    FLS_RETURN_IF_ERROR(client.Call("STATUS", {{"job_id", id}, {"wait_ms", 2000}}, 62000, &reply));
    if (service::IsEndedJobState(reply.value("state", std::string()))) break;
  }
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (reply.value("state", "") != "done" || reply.value("items_failed", 0LL) != 0)
    return Status::IOError("job " + std::to_string(id) + " of " + spec.dump().substr(0, 200) +
                           " did not end done: " + reply.dump().substr(0, 2000));
  if (job != nullptr) *job = reply;
  return Status::Ok();
}

Status BenchWorkDir::Create(const std::string& parent, const std::string& prefix, bool keep) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string in = parent.empty() ? "." : parent;
  fs::create_directories(in, ec);
  const std::string dir = fs::weakly_canonical(fs::absolute(in)).string() + "/" + prefix + "-" +
                          std::to_string(::getpid());
  if (!fs::create_directory(dir, ec))
    return Status::IOError("cannot create the work directory " + dir + ": " + ec.message());
  path_ = dir;
  keep_ = keep;
  fs::create_directories(logs(), ec);
  return Status::Ok();
}

BenchWorkDir::~BenchWorkDir() {
  std::error_code ec;
  if (!path_.empty() && !keep_) std::filesystem::remove_all(path_, ec);
}

}  // namespace fls::bench
