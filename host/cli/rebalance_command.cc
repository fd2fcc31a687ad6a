// `fls rebalance [STORE] [--dry-run] [--json] [--max-moves N] [--tolerance PCT]`:
// moves chunks between the store's targets until each holds about the same
// chunk bytes (fls/rebalance.h), and prints the plan or what was done.
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "fls/rebalance.h"
#include "store_args.h"

namespace fls::cli {
namespace {

double MiB(std::uint64_t b) { return static_cast<double>(b) / (1 << 20); }

nlohmann::json MovesJson(const std::vector<RebalanceMove>& moves) {
  nlohmann::json a = nlohmann::json::array();
  for (const RebalanceMove& m : moves)
    a.push_back({{"object", m.object},
                 {"chunk", m.chunk},
                 {"from", m.from},
                 {"to", m.to},
                 {"bytes", m.bytes}});
  return a;
}

void PrintText(const RebalanceResult& r, const RebalanceOptions& o, double secs) {
  std::uint64_t planned_bytes = 0;
  for (const RebalanceMove& m : r.planned) planned_bytes += m.bytes;
  std::printf("%-40s %-12s %12s %12s %8s\n", "target", "domain", "before MiB",
              o.dry_run ? "planned MiB" : "after MiB", "chunks");
  for (const TargetUsage& t : r.targets)
    std::printf("%-40s %-12s %12.2f %12.2f %8d%s\n", t.path.c_str(), t.domain.c_str(),
                MiB(t.before), MiB(t.after), t.chunks_after,
                t.usable ? "" : "  (missing: left out)");
  if (o.dry_run) {
    const std::size_t shown = std::min<std::size_t>(r.planned.size(), 50);
    for (std::size_t i = 0; i < shown; ++i) {
      const RebalanceMove& m = r.planned[i];
      std::printf("  would move chunk %d of '%s' (%llu bytes): %s -> %s\n", m.chunk,
                  m.object.c_str(), static_cast<unsigned long long>(m.bytes), m.from.c_str(),
                  m.to.c_str());
    }
    if (shown < r.planned.size()) std::printf("  ... %zu moves in all\n", r.planned.size());
    std::printf("dry run: %zu chunk moves planned, %.2f MiB; spread %.1f%% now, %.1f%% after\n",
                r.planned.size(), MiB(planned_bytes), 100 * r.spread_before, 100 * r.spread_after);
  } else {
    std::printf(
        "moved %zu chunks (%d manifest commits), %.2f MiB in %.2f s; spread %.1f%% before, %.1f%% "
        "after\n",
        r.moved.size(), r.objects_committed, MiB(r.bytes_moved), secs, 100 * r.spread_before,
        100 * r.spread_after);
    if (!r.cleaned.empty())
      std::printf("removed %zu leftovers of interrupted runs\n", r.cleaned.size());
  }
  std::printf("%s (goal: every target within %.0f%% of the mean)\n",
              r.balanced ? "balanced" : "not balanced", 100 * o.tolerance);
  if (!r.balanced && (o.max_moves == 0 || static_cast<int>(r.planned.size()) < o.max_moves))
    std::printf(
        "  no further move is allowed in this run (it must keep every object's fault tolerance "
        "and moves at most m chunks of an object); run it again, or add targets or domains\n");
}

void AddRebalance(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "rebalance", "Move chunks between targets until each holds about the same bytes");
  auto a = std::make_shared<CommonArgs>();
  auto o = std::make_shared<RebalanceOptions>();
  auto pct = std::make_shared<double>(10.0);
  AddCommon(cmd, a.get(), false);
  cmd->add_flag("--dry-run", o->dry_run, "Print the plan; change nothing");
  cmd->add_option("--max-moves", o->max_moves, "Move at most N chunks (default: no limit)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--parallel", o->parallel, "Objects moved at once (default 4)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--tolerance", *pct, "Allowed distance from the mean usage, in % (default 10)")
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("args", a->positional, "[STORE]");
  cmd->callback([a, o, pct, &exit_code] {
    std::unique_ptr<Store> store;
    Status s = OpenStoreOnly(a.get(), &store);
    if (!s.ok()) {
      exit_code = Fail("rebalance", s);
      return;
    }
    RebalanceOptions opt = *o;
    opt.tolerance = *pct / 100;
    RebalanceResult r;
    const auto t0 = std::chrono::steady_clock::now();
    s = RebalanceStore(*store, opt, &r);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& w : r.warnings)
      std::fprintf(stderr, "fls rebalance: warning: %s\n", w.c_str());
    for (const auto& k : r.skipped) std::fprintf(stderr, "fls rebalance: skipped %s\n", k.c_str());
    if (a->json) {
      nlohmann::json j = {{"dry_run", opt.dry_run},
                          {"ok", s.ok()},
                          {"error", s.ok() ? "" : s.ToString()},
                          {"seconds", secs},
                          {"tolerance", opt.tolerance},
                          {"spread_before", r.spread_before},
                          {"spread_after", r.spread_after},
                          {"balanced", r.balanced},
                          {"moves_planned", r.planned.size()},
                          {"moves_made", r.moved.size()},
                          {"objects_committed", r.objects_committed},
                          {"bytes_moved", r.bytes_moved},
                          {"planned", MovesJson(r.planned)},
                          {"moved", MovesJson(r.moved)},
                          {"skipped", r.skipped},
                          {"cleaned", r.cleaned},
                          {"warnings", r.warnings}};
      j["targets"] = nlohmann::json::array();
      for (const TargetUsage& t : r.targets)
        j["targets"].push_back({{"path", t.path},
                                {"domain", t.domain},
                                {"usable", t.usable},
                                {"bytes_before", t.before},
                                {"bytes_after", t.after},
                                {"chunks_before", t.chunks_before},
                                {"chunks_after", t.chunks_after}});
      std::printf("%s\n", j.dump().c_str());
    } else if (!a->quiet) {
      PrintText(r, opt, secs);
    }
    if (!s.ok()) {
      exit_code = Fail("rebalance", s);
      return;
    }
    // A damaged chunk kept an object from moving: the store needs a repair.
    exit_code = r.skipped.empty() ? kExitOk : kExitDegraded;
  });
}

}  // namespace

void AddRebalanceCommand(CLI::App& app, int& exit_code) { AddRebalance(app, exit_code); }

}  // namespace fls::cli
