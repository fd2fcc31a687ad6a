// Running the real `fls` binary the way a user does, for the store benches
// (`fls bench space`, `fls bench catalogue`): each command is a child process
// whose wall time (spawn to exit) and CPU time are measured, and `fls serve`
// runs as a child with a generated config on free loopback ports. Going
// through the binary keeps the benches measuring the same thing when the
// archive's internals change.
// Thread-safety: an FlsRunner and a ServiceProcess belong to one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fls/status.h"

namespace fls::bench {

struct CommandResult {
  int exit_code = -1;      // the exit status, or 128 + signal
  double seconds = 0;      // wall time from spawn to exit
  double cpu_seconds = 0;  // user + system time of the child
  std::string out_path;    // the child's stdout (a file in the work directory)
  std::string err_path;    // the child's stderr
};

// The executable this process runs (/proc/self/exe), the default `fls`.
std::string SelfExecutable();

class FlsRunner {
 public:
  // `fls` is the binary to run; `log_dir` receives each command's stdout and
  // stderr (overwritten by the next command of the same `tag`).
  FlsRunner(std::string fls, std::string log_dir, int timeout_s);

  // Runs `fls ARGS...` to completion. Fails (naming the command and quoting
  // its stderr) when it cannot start, runs past the timeout (then it is
  // killed) or, unless `allow_failure`, exits non-zero.
  Status Run(const std::vector<std::string>& args, const std::string& tag, CommandResult* result,
             bool allow_failure = false) const;
  // Starts `fls ARGS...` in the background with output to `log`.
  Status Spawn(const std::vector<std::string>& args, const std::string& log, pid_t* pid) const;

  const std::string& fls() const { return fls_; }
  int timeout_s() const { return timeout_s_; }

 private:
  Status Start(const std::vector<std::string>& args, const std::string& out, const std::string& err,
               pid_t* pid) const;
  std::string fls_, log_dir_;
  int timeout_s_;
};

// The first `max_bytes` of a file (for error messages and small outputs).
std::string ReadHead(const std::string& path, std::size_t max_bytes = 4096);

// `fls serve` with a config of its own: 14 targets given by the caller,
// journal and log in `dir`, endpoints on free loopback ports, source and
// output roots as given. The batch section is left out so that the
// service's own defaults apply, as for a user.
class ServiceProcess {
 public:
  ServiceProcess(const FlsRunner& runner, std::string dir)
      : runner_(runner), dir_(std::move(dir)) {}
  ~ServiceProcess();

  Status Start(const std::vector<std::string>& targets, int k, int m,
               const std::string& source_root, const std::string& output_root);
  // SIGTERM, then SIGKILL when it has not exited within 30 s.
  Status Stop();
  const std::string& config() const { return config_; }
  // `fls submit KIND ARGS... --wait --json`: fails unless the job ends "done"
  // with no failed item. `job` (if given) receives the job's final STATUS.
  Status SubmitAndWait(const std::string& kind, const std::vector<std::string>& args,
                       const std::string& tag, CommandResult* result,
                       nlohmann::json* job = nullptr) const;
  // The same job as a client program submits it: SUBMIT `spec` over the
  // protocol from this process, then STATUS held until the job ends
  // (wait_ms). `seconds` is SUBMIT to the final reply: no process start.
  // Fails unless the job ends "done" with no failed item.
  Status SubmitOverProtocol(const nlohmann::json& spec, double* seconds,
                            nlohmann::json* job = nullptr) const;

 private:
  const FlsRunner& runner_;
  std::string dir_, config_, client_endpoint_;
  pid_t pid_ = -1;
};

// Current 1-minute load average (/proc/loadavg), or -1 when unreadable.
double LoadAverage();

// A bench's own work directory, <parent>/<prefix>-<pid> (parent "" is the
// current directory), with a logs/ directory inside. Removed with everything
// below it when the object goes, unless `keep`.
class BenchWorkDir {
 public:
  BenchWorkDir() = default;
  BenchWorkDir(const BenchWorkDir&) = delete;
  BenchWorkDir& operator=(const BenchWorkDir&) = delete;
  ~BenchWorkDir();
  // IOError naming the directory when it cannot be made.
  Status Create(const std::string& parent, const std::string& prefix, bool keep);
  const std::string& path() const { return path_; }
  std::string logs() const { return path_ + "/logs"; }

 private:
  std::string path_;
  bool keep_ = false;
};

}  // namespace fls::bench
