// `fls bench mount` (issue 17): the options and the output of
// bench/mount_bench.h, which runs the `fls` binary itself.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "bench/fls_process.h"
#include "bench/mount_bench.h"
#include "commands.h"
#include "fls/byte_size.h"

namespace fls::cli {

void AddBenchMountCommand(CLI::App& app, int& exit_code) {
  CLI::App* bench = app.get_subcommand("bench");
  auto o = std::make_shared<bench::MountBenchOptions>();
  auto size = std::make_shared<std::string>("1G");
  auto json = std::make_shared<bool>(false);
  auto enforce = std::make_shared<bool>(false);
  auto* cmd = bench->add_subcommand(
      "mount",
      "Sequential read of a large file through `fls mount` against `fls restore` of it, "
      "healthy and with 4 chunks lost (runs the fls binary; needs FUSE)");
  cmd->add_option("--size", *size, "File size (default 1G)");
  cmd->add_option("--cache", o->cache, "fls mount --cache (default 256M)");
  cmd->add_option("--dir", o->dir, "Directory to work in (default .; needs ~2.5x --size)");
  cmd->add_option("--fls", o->fls, "The fls binary to measure (default: this one)");
  cmd->add_option("--timeout-s", o->timeout_s, "Limit per fls command (default 3600)")
      ->check(CLI::Range(1, 86400));
  cmd->add_flag("--keep", o->keep, "Keep the work directory");
  cmd->add_flag("--enforce", *enforce, "Exit 1 when the mount is below 0.5x restore's rate");
  cmd->add_flag("--json", *json, "One JSON object per line");
  cmd->callback([o, size, json, enforce, &exit_code] {
    Status s = ParseByteSize(*size, &o->size).WithContext("--size");
    if (s.ok() && o->size == 0) s = Status::InvalidArgument("--size must be above 0");
    bool all_pass = true;
    const std::string cpu = bench::CpuModel();
    if (s.ok() && !*json)
      std::printf("%-14s %10s %12s %12s %8s %5s %s   (GB/s = file bytes / s / 1e9; CPU %s)\n",
                  "state", "MB", "restore GB/s", "mount GB/s", "ratio", "floor", "", cpu.c_str());
    if (s.ok())
      s = bench::RunMountBench(*o, [&](const bench::MountRow& r) {
        all_pass = all_pass && r.pass;
        if (*json) {
          nlohmann::json j = {{"bench", "mount"},
                              {"state", r.state},
                              {"bytes", r.bytes},
                              {"restore_seconds", r.restore_seconds},
                              {"mount_seconds", r.mount_seconds},
                              {"restore_gbps", r.restore_gbps},
                              {"mount_gbps", r.mount_gbps},
                              {"ratio", r.ratio},
                              {"floor", r.floor},
                              {"pass", r.pass},
                              {"mount_equal", r.mount_equal},
                              {"cache", o->cache},
                              {"cpu", cpu},
                              {"load_average", r.load_average}};
          std::printf("%s\n", j.dump().c_str());
        } else {
          std::printf("%-14s %10.1f %12.3f %12.3f %8.2f %5.2f %s\n", r.state.c_str(), r.bytes / 1e6,
                      r.restore_gbps, r.mount_gbps, r.ratio, r.floor, r.pass ? "pass" : "FAIL");
        }
        std::fflush(stdout);
      });
    if (!s.ok()) std::fprintf(stderr, "fls bench mount: %s\n", s.ToString().c_str());
    exit_code = !s.ok() ? ExitCodeFor(s) : (*enforce && !all_pass ? kExitFailure : kExitOk);
  });
}

}  // namespace fls::cli
