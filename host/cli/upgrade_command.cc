// `fls upgrade [STORE] [--scratch DIR] [--json]`: rewrites the store's
// path-addressed objects (manifest versions 1 and 2) as version 3 objects
// (fls/upgrade.h) and prints what it did and what it could not do.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "fls/upgrade.h"
#include "store_args.h"

namespace fls::cli {
namespace {

void PrintJson(const UpgradeReport& r, const Status& s, double secs) {
  nlohmann::json failures = nlohmann::json::array();
  for (const UpgradeFailure& f : r.failures)
    failures.push_back({{"name", f.name}, {"error", f.status.ToString()}});
  nlohmann::json j = {{"ok", s.ok() && r.failures.empty()},
                      {"error", s.ok() ? "" : s.ToString()},
                      {"seconds", secs},
                      {"upgraded", r.upgraded},
                      {"members_recorded", r.members_recorded},
                      {"already_v3", r.already_v3},
                      {"leftovers_removed", r.leftovers_removed},
                      {"files_removed", r.removed.size()},
                      {"failures", failures},
                      {"warnings", r.warnings},
                      {"bytes_before", r.bytes_before},
                      {"bytes_after", r.bytes_after},
                      {"path_addressed_left", r.path_addressed_left}};
  std::printf("%s\n", j.dump().c_str());
}

void PrintText(const UpgradeReport& r, double secs) {
  for (const std::string& n : r.upgraded) std::printf("upgraded %s\n", n.c_str());
  for (const std::string& n : r.leftovers_removed)
    std::printf("finished %s (an interrupted upgrade's old files removed)\n", n.c_str());
  std::printf(
      "%zu object(s) upgraded, %d already version 3, %zu interrupted upgrade(s) finished, %zu "
      "failed; %zu file(s) removed in %.2f s\n",
      r.upgraded.size(), r.already_v3, r.leftovers_removed.size(), r.failures.size(),
      r.removed.size(), secs);
  if (r.members_recorded > 0)
    std::printf("%llu packed file(s) got their member records\n",
                static_cast<unsigned long long>(r.members_recorded));
  std::printf("chunk and manifest bytes on the targets: %llu before, %llu after\n",
              static_cast<unsigned long long>(r.bytes_before),
              static_cast<unsigned long long>(r.bytes_after));
  if (r.path_addressed_left > 0)
    std::printf(
        "%d path-addressed manifest file(s) left (the failed objects'); run it again "
        "after repairing them\n",
        r.path_addressed_left);
  else
    std::printf("no path-addressed manifest left: the store is version 3\n");
}

void AddUpgrade(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "upgrade", "Rewrite the store's version 1 and 2 objects as version 3 (crash-safe)");
  auto a = std::make_shared<CommonArgs>();
  auto o = std::make_shared<UpgradeOptions>();
  AddCommon(cmd, a.get(), true);
  cmd->add_option("--scratch", o->scratch_dir,
                  "Directory for the restored copy of one object at a time (default $TMPDIR or "
                  "/tmp; needs room for the largest object)");
  cmd->add_option("args", a->positional, "[STORE]");
  cmd->callback([a, o, &exit_code] {
    std::unique_ptr<Store> store;
    Status s = OpenStoreOnly(a.get(), &store);
    if (!s.ok()) {
      exit_code = Fail("upgrade", s);
      return;
    }
    UpgradeOptions opt = *o;
    opt.backend = a->backend;
    opt.threads = a->threads;
    UpgradeReport r;
    const auto t0 = std::chrono::steady_clock::now();
    s = UpgradeStore(*store, opt, &r);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& w : r.warnings) std::fprintf(stderr, "fls upgrade: warning: %s\n", w.c_str());
    for (const UpgradeFailure& f : r.failures)
      std::fprintf(stderr, "fls upgrade: '%s' not upgraded, left as it is: %s\n", f.name.c_str(),
                   f.status.ToString().c_str());
    if (a->json)
      PrintJson(r, s, secs);
    else if (s.ok() && !a->quiet)
      PrintText(r, secs);
    if (!s.ok()) {
      exit_code = Fail("upgrade", s);
      return;
    }
    // The worst failure decides (5 when an object is unrecoverable).
    exit_code = kExitOk;
    for (const UpgradeFailure& f : r.failures)
      exit_code = std::max({exit_code, ExitCodeFor(f.status), kExitFailure});
  });
}

}  // namespace

void AddUpgradeCommand(CLI::App& app, int& exit_code) { AddUpgrade(app, exit_code); }

}  // namespace fls::cli
