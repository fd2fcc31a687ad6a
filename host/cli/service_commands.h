// The service's `fls` subcommands: serve, worker, submit, jobs, job, cancel,
// close, stats, ping, keygen. The executor factory is a parameter so that the
// same commands run in `fls` (bound to the archive layer) and in test
// harnesses.
// Thread-safety: called once, from main, before parsing.
#pragma once

#include <CLI/CLI.hpp>

#include "fls/service/job_executor.h"

namespace fls::service {

void AddServiceCommands(CLI::App& app, int& exit_code, ExecutorFactory factory);

// Within the service commands: the client ones, submit to ping
// (job_commands.cc), and whether SIGINT or SIGTERM arrived since serve or
// worker installed their handlers.
void AddJobCommands(CLI::App& app, int& exit_code);
bool StopRequested();

}  // namespace fls::service
