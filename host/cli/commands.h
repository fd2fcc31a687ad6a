// The `fls` subcommands. Each Add*Command registers one subcommand (its
// options and its callback) on the CLI11 app; the callback sets `exit_code`.
// Exit codes: 0 ok, 2 usage error, 3 I/O error, 4 degraded, 5 unrecoverable,
// 6 unavailable backend/device or busy store, 7 retained (rm), 1 any other
// failure.
// Thread-safety: called once, from main, before parsing.
#pragma once

#include <CLI/CLI.hpp>

#include "fls/status.h"

namespace fls::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitIo = 3;
inline constexpr int kExitDegraded = 4;
inline constexpr int kExitUnrecoverable = 5;
inline constexpr int kExitUnavailable = 6;
// `fls rm`: a name is under retention (--retain-until) and was not deleted.
inline constexpr int kExitRetained = 7;

// Maps a failed Status to the documented exit code.
int ExitCodeFor(const Status& status);

void AddVersionCommand(CLI::App& app, int& exit_code);
void AddBenchCommand(CLI::App& app, int& exit_code);
// archive, restore (archive_commands.cc), and through AddInspectCommands
// verify, repair, ls (inspect_commands.cc) and info (info_command.cc).
void AddArchiveCommands(CLI::App& app, int& exit_code);
void AddInspectCommands(CLI::App& app, int& exit_code);
void AddInfoCommand(CLI::App& app, int& exit_code);
// `fls init` (init_command.cc).
void AddInitCommand(CLI::App& app, int& exit_code);
// `fls rebalance` (rebalance_command.cc).
void AddRebalanceCommand(CLI::App& app, int& exit_code);
// `fls rm` and `fls compact` (delete_commands.cc).
void AddDeleteCommands(CLI::App& app, int& exit_code);
// `fls upgrade` (upgrade_command.cc).
void AddUpgradeCommand(CLI::App& app, int& exit_code);
// `fls bench e2e`, added under the `bench` subcommand AddBenchCommand made.
void AddBenchE2eCommand(CLI::App& app, int& exit_code);
// sweep, targets (sweep_commands.cc).
void AddSweepCommands(CLI::App& app, int& exit_code);
// Large freed buffers stay in the heap for reuse (sweep_commands.cc).
void KeepLargeBuffers();
// `fls bench sweep`, under `bench` like bench e2e.
void AddBenchSweepCommand(CLI::App& app, int& exit_code);
// `fls bench space` and `fls bench catalogue` (bench_store_commands.cc).
void AddBenchStoreCommands(CLI::App& app, int& exit_code);

// `fls df` (df_command.cc).
void AddDfCommand(CLI::App& app, int& exit_code);

// `fls mount` (mount_command.cc).
void AddMountCommand(CLI::App& app, int& exit_code);
// `fls bench mount`, under `bench` (bench_mount_command.cc).
void AddBenchMountCommand(CLI::App& app, int& exit_code);

}  // namespace fls::cli
