// fls: the command-line entry point. Subcommands live in *_command.cc files.
#include <cstdio>

#include "commands.h"
#include "service_commands.h"

namespace fls::cli {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Status::Code::kOk:
      return kExitOk;
    case Status::Code::kInvalidArgument:
      return kExitUsage;
    case Status::Code::kIOError:
    case Status::Code::kNoSpace:
    case Status::Code::kNotFound:
      return kExitIo;
    case Status::Code::kUnrecoverable:
      return kExitUnrecoverable;
    case Status::Code::kUnavailable:
      return kExitUnavailable;
    default:
      return kExitFailure;
  }
}

}  // namespace fls::cli

int main(int argc, char** argv) {
  CLI::App app{"fls: erasure-coded file archive (Reed-Solomon over GF(2^8), GPU or CPU)"};
  app.require_subcommand(1);
  int exit_code = fls::cli::kExitOk;
  fls::cli::AddVersionCommand(app, exit_code);
  fls::cli::AddBenchCommand(app, exit_code);
  fls::service::AddServiceCommands(app, exit_code, fls::service::CreateDefaultExecutor);
  fls::cli::AddBenchE2eCommand(app, exit_code);
  fls::cli::AddInitCommand(app, exit_code);
  fls::cli::AddArchiveCommands(app, exit_code);
  fls::cli::AddRebalanceCommand(app, exit_code);
  fls::cli::AddUpgradeCommand(app, exit_code);
  fls::cli::AddDeleteCommands(app, exit_code);
  fls::cli::AddSweepCommands(app, exit_code);
  fls::cli::AddBenchSweepCommand(app, exit_code);
  fls::cli::AddBenchStoreCommands(app, exit_code);
  fls::cli::AddMountCommand(app, exit_code);
  fls::cli::AddDfCommand(app, exit_code);
  fls::cli::AddBenchMountCommand(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : fls::cli::kExitUsage;
  }
  return exit_code;
}
