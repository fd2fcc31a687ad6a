// `fls df [STORE] [--json]`: where the bytes on the targets go, per target
// and in total (fls/space_report.h), and the overhead ratio. Exit 0, or 4
// when some of it could not be counted exactly (the warnings say what).
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "fls/space_report.h"
#include "store_args.h"

namespace fls::cli {
namespace {

// Rounded to one decimal in binary units (the table is for reading; --json
// has the exact bytes).
std::string Human(std::uint64_t v) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double x = static_cast<double>(v);
  int u = 0;
  while (x >= 1024 && u < 6) {
    x /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(v));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", x, kUnits[u]);
  return buf;
}

void PrintRow(const SpaceBytes& b, const std::string& free, const std::string& label) {
  auto f = [](std::uint64_t v) { return Human(v); };
  std::printf("%11s %11s %11s %11s %11s %11s %11s %11s %11s %11s  %s\n", f(b.data).c_str(),
              f(b.parity).c_str(), f(b.padding).c_str(), f(b.headers).c_str(), f(b.dead).c_str(),
              f(b.manifests).c_str(), f(b.leftovers()).c_str(), f(b.damaged).c_str(),
              f(b.allocated()).c_str(), free.c_str(), label.c_str());
}

void PrintTable(const SpaceReport& r) {
  std::printf("%11s %11s %11s %11s %11s %11s %11s %11s %11s %11s  %s\n", "data", "parity",
              "padding", "headers", "dead", "manifests", "leftovers", "damaged", "on disk", "free",
              "target");
  for (std::size_t i = 0; i < r.targets.size(); ++i) {
    const TargetSpace& t = r.targets[i];
    std::string free = t.free_known ? Human(t.free) : "?";
    if (t.shares_fs_with >= 0) free = "(shared)";
    PrintRow(t.bytes, free, t.path + (t.readable ? "" : " (unreadable)"));
  }
  PrintRow(r.total, Human(r.free), "total");
  for (std::size_t i = 0; i < r.targets.size(); ++i)
    if (r.targets[i].shares_fs_with >= 0)
      std::printf("%s shares a file system with %s: its free space is counted once\n",
                  r.targets[i].path.c_str(), r.targets[r.targets[i].shares_fs_with].path.c_str());
  std::printf("%llu object(s), %llu pack(s) holding %llu live and %llu dead member(s)\n",
              static_cast<unsigned long long>(r.objects), static_cast<unsigned long long>(r.packs),
              static_cast<unsigned long long>(r.live_members),
              static_cast<unsigned long long>(r.dead_members));
  std::printf(
      "live source bytes %s (%llu); on disk %s (%llu allocated)\n",
      Human(r.live_source_bytes).c_str(), static_cast<unsigned long long>(r.live_source_bytes),
      Human(r.total.allocated()).c_str(), static_cast<unsigned long long>(r.total.allocated()));
  if (r.live_source_bytes > 0)
    std::printf("overhead ratio %.4f (allocated bytes on the targets / live source bytes)\n",
                r.overhead_ratio);
  else
    std::printf("overhead ratio: none (no live source bytes)\n");
  if (r.total.foreign_files > 0)
    std::printf("%llu file(s) on the targets are not fls's (%s): not counted\n",
                static_cast<unsigned long long>(r.total.foreign_files),
                Human(r.total.foreign_bytes).c_str());
}

}  // namespace

void AddDfCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "df", "Bytes on the targets: data, parity, padding, headers, dead members, leftovers, free");
  auto a = std::make_shared<CommonArgs>();
  AddCommon(cmd, a.get(), false);
  cmd->add_option("args", a->positional, "[STORE]");
  cmd->callback([a, &exit_code] {
    std::unique_ptr<Store> store;
    Status s = OpenStoreOnly(a.get(), &store);
    SpaceReport report;
    if (s.ok()) s = ReportSpace(*store, &report);
    if (!s.ok()) {
      exit_code = Fail("df", s);
      return;
    }
    for (const std::string& w : report.warnings)
      std::fprintf(stderr, "fls df: warning: %s\n", w.c_str());
    if (a->json)
      std::printf("%s\n", SpaceReportJson(report, true).c_str());
    else if (!a->quiet)
      PrintTable(report);
    exit_code = report.warnings.empty() ? kExitOk : kExitDegraded;
  });
}

}  // namespace fls::cli
