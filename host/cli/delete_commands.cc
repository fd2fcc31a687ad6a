// `fls rm [STORE] NAME... [--force] [--override-retention]` (fls/delete.h)
// and `fls compact [STORE] [--min-dead PCT]` (fls/compact.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "fls/byte_size.h"
#include "fls/compact.h"
#include "fls/delete.h"
#include "fls/time_text.h"
#include "store_args.h"

namespace fls::cli {
namespace {

struct RmArgs {
  CommonArgs common;
  DeleteOptions options;
  double lock_wait_s = 60;
};

nlohmann::json ResultJson(const Status& s, const DeleteResult& r) {
  nlohmann::json j = {{"name", r.name},
                      {"ok", s.ok()},
                      {"error", s.ok() ? "" : s.ToString()},
                      {"existed", r.existed},
                      {"packed", r.member},
                      {"size", r.size},
                      {"finished", r.finished},
                      {"files_removed", r.files_removed},
                      {"retained", r.retained},
                      {"retention_overridden", r.retention_overridden},
                      {"warnings", r.warnings}};
  if (r.retain_until_ns != 0) j["retain_until"] = FormatTimeNs(r.retain_until_ns);
  if (r.member) j["pack"] = r.pack;
  return j;
}

void PrintResult(const CommonArgs& a, const Status& s, const DeleteResult& r) {
  for (const std::string& w : r.warnings)
    std::fprintf(stderr, "fls rm: warning: '%s': %s\n", r.name.c_str(), w.c_str());
  if (r.retention_overridden)
    std::fprintf(stderr, "fls rm: RETENTION OVERRIDDEN: '%s' was retained until %s\n",
                 r.name.c_str(), FormatTimeNs(r.retain_until_ns).c_str());
  if (!s.ok()) std::fprintf(stderr, "fls rm: %s\n", s.ToString().c_str());
  if (a.json) {
    std::printf("%s\n", ResultJson(s, r).dump().c_str());
  } else if (s.ok() && !a.quiet) {
    if (!r.existed)
      std::printf("'%s' does not exist (nothing to delete)\n", r.name.c_str());
    else
      std::printf("deleted '%s' (%llu bytes%s)%s\n", r.name.c_str(),
                  static_cast<unsigned long long>(r.size),
                  r.member ? ", packed: its bytes stay in its pack until `fls compact`" : "",
                  r.finished ? "" : "; a repair sweep removes what is left");
  }
}

void AddRm(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("rm", "Delete objects and packed files (crash-safe)");
  auto a = std::make_shared<RmArgs>();
  AddCommon(cmd, &a->common, false);
  cmd->add_flag("-f,--force", a->options.force, "A name that does not exist is not an error");
  cmd->add_flag("--override-retention", a->options.override_retention,
                "Delete files still under --retain-until (logged)");
  cmd->add_option("--lock-wait", a->lock_wait_s,
                  "Seconds to wait for a running sweep, rebalance or compaction (default 60)");
  cmd->add_option("args", a->common.positional, "[STORE] NAME...")->required();
  cmd->callback([a, &exit_code] {
    std::unique_ptr<Store> store;
    Status s = OpenStore(&a->common, 1, &store);
    if (s.ok() && a->common.positional.empty()) s = Status::InvalidArgument("no NAME to delete");
    if (!s.ok()) {
      exit_code = Fail("rm", s);
      return;
    }
    CleanStaleTemporariesThrottled(*store, "rm");
    exit_code = kExitOk;
    s = DeleteNames(*store, a->common.positional, a->options,
                    static_cast<int>(a->lock_wait_s * 1000),
                    [&](std::size_t, const Status& st, const DeleteResult& r) {
                      PrintResult(a->common, st, r);
                      if (st.ok()) return;
                      // The worst failure decides; retention has its own code.
                      const int code = r.retained && !r.retention_overridden
                                           ? kExitRetained
                                           : std::max(ExitCodeFor(st), kExitFailure);
                      exit_code = std::max(exit_code, code);
                    });
    if (!s.ok()) exit_code = Fail("rm", s);
  });
}

void PrintCompact(const CommonArgs& a, const CompactReport& r, double secs) {
  for (const std::string& w : r.warnings)
    std::fprintf(stderr, "fls compact: warning: %s\n", w.c_str());
  for (const std::string& f : r.failures) std::fprintf(stderr, "fls compact: %s\n", f.c_str());
  if (a.json) {
    nlohmann::json j = {{"ok", r.failures.empty()},
                        {"seconds", secs},
                        {"packs", r.packs},
                        {"packs_too_young", r.packs_too_young},
                        {"packs_rewritten", r.packs_rewritten},
                        {"packs_removed", r.packs_removed},
                        {"files_moved", r.files_moved},
                        {"bytes_moved", r.bytes_moved},
                        {"live_bytes", r.live_bytes},
                        {"dead_bytes", r.dead_bytes},
                        {"dead_bytes_reclaimed", r.dead_bytes_reclaimed},
                        {"failures", r.failures},
                        {"warnings", r.warnings}};
    std::printf("%s\n", j.dump().c_str());
  } else if (!a.quiet) {
    std::printf(
        "%llu pack(s) examined (%llu too young to judge): %llu rewritten, %llu removed; %llu "
        "file(s) moved (%s); dead bytes %s of %s reclaimed in %.2f s\n",
        static_cast<unsigned long long>(r.packs),
        static_cast<unsigned long long>(r.packs_too_young),
        static_cast<unsigned long long>(r.packs_rewritten),
        static_cast<unsigned long long>(r.packs_removed),
        static_cast<unsigned long long>(r.files_moved), FormatByteSize(r.bytes_moved).c_str(),
        FormatByteSize(r.dead_bytes_reclaimed).c_str(), FormatByteSize(r.dead_bytes).c_str(), secs);
  }
}

void AddCompact(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "compact", "Rewrite packs whose deleted files pass a share, reclaiming their bytes");
  auto a = std::make_shared<CommonArgs>();
  auto o = std::make_shared<CompactOptions>();
  auto min_dead_pct = std::make_shared<double>(50);
  auto min_age_s = std::make_shared<double>(600);
  auto lock_wait_s = std::make_shared<double>(60);
  AddCommon(cmd, a.get(), true);
  cmd->add_option("--min-dead", *min_dead_pct,
                  "Rewrite packs with at least this % of their file bytes deleted (default 50; "
                  "packs with no live file are always removed)");
  cmd->add_option("--min-age", *min_age_s,
                  "Leave packs younger than this many seconds (default 600: an archive may "
                  "still be writing their records)");
  cmd->add_option("--lock-wait", *lock_wait_s,
                  "Seconds to wait for a running sweep, rebalance or delete (default 60)");
  cmd->add_option("args", a->positional, "[STORE]");
  cmd->callback([a, o, min_dead_pct, min_age_s, lock_wait_s, &exit_code] {
    std::unique_ptr<Store> store;
    Status s = OpenStoreOnly(a.get(), &store);
    if (s.ok() && !(*min_dead_pct >= 0 && *min_dead_pct <= 100))
      s = Status::InvalidArgument("--min-dead " + std::to_string(*min_dead_pct) +
                                  ": give a percentage from 0 to 100");
    if (s.ok() && !(*min_age_s >= 0)) s = Status::InvalidArgument("--min-age must not be negative");
    if (!s.ok()) {
      exit_code = Fail("compact", s);
      return;
    }
    CleanStaleTemporaries(*store, "compact");
    CompactOptions opt = *o;
    opt.min_dead = *min_dead_pct / 100;
    opt.min_age_ns = static_cast<std::int64_t>(*min_age_s * 1e9);
    opt.lock_wait_ms = static_cast<int>(*lock_wait_s * 1000);
    opt.archive.backend = a->backend;
    opt.archive.threads = a->threads;
    CompactReport r;
    const auto t0 = std::chrono::steady_clock::now();
    s = CompactStore(*store, opt, &r);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!s.ok()) {
      exit_code = Fail("compact", s);
      return;
    }
    PrintCompact(*a, r, secs);
    exit_code = r.failures.empty() ? kExitOk : kExitFailure;
  });
}

}  // namespace

void AddDeleteCommands(CLI::App& app, int& exit_code) {
  AddRm(app, exit_code);
  AddCompact(app, exit_code);
}

}  // namespace fls::cli
