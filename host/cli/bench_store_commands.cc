// `fls bench space` and `fls bench catalogue` (issue 14): the options and
// the output of the store benches in bench/space_bench.h and
// bench/catalogue_bench.h, which run the `fls` binary itself.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/catalogue_bench.h"
#include "bench/space_bench.h"
#include "commands.h"
#include "fls/byte_size.h"

namespace fls::cli {
namespace {

struct SpaceArgs {
  bench::SpaceBenchOptions o;
  std::string min = "1K", max = "64M", total_min = "500M";
  std::vector<std::string> singles{"1M", "1M+1", "3M", "10M+1", "100M+1"};
  std::vector<std::string> ways{"cli", "service"};
  bool json = false, enforce = false;
};

Status ParseSpaceArgs(SpaceArgs* a) {
  FLS_RETURN_IF_ERROR(ParseByteSize(a->min, &a->o.min_size).WithContext("--min"));
  FLS_RETURN_IF_ERROR(ParseByteSize(a->max, &a->o.max_size).WithContext("--max"));
  FLS_RETURN_IF_ERROR(ParseByteSize(a->total_min, &a->o.total_min).WithContext("--total-min"));
  a->o.singles.clear();
  for (const std::string& s : a->singles) {
    if (s == "none") continue;
    std::uint64_t v = 0;
    FLS_RETURN_IF_ERROR(bench::ParseSizeSum(s, &v).WithContext("--single"));
    a->o.singles.push_back(v);
  }
  a->o.cli = a->o.service = false;
  for (const std::string& w : a->ways) {
    if (w == "cli")
      a->o.cli = true;
    else if (w == "service")
      a->o.service = true;
    else if (w != "none")
      return Status::InvalidArgument("--way '" + w + "': use cli, service or none");
  }
  return Status::Ok();
}

nlohmann::json SpaceJson(const bench::SpaceBenchOptions& o, const bench::SpaceRow& r) {
  nlohmann::json j = {{"bench", "space"},
                      {"kind", r.kind},
                      {"way", r.way},
                      {"files", r.files},
                      {"source_bytes", r.source_bytes},
                      {"allocated_bytes", r.usage.allocated},
                      {"apparent_bytes", r.usage.apparent},
                      {"empty_targets_allocated", r.empty_targets_allocated},
                      {"identity_allocated", r.identity.allocated},
                      {"identity_apparent", r.identity.apparent},
                      {"identity_files", r.identity.files},
                      {"target_files", r.usage.files},
                      {"ratio", r.ratio},
                      {"apparent_ratio", r.apparent_ratio},
                      {"floor", r.floor},
                      {"ideal", r.ideal},
                      {"pass", r.pass},
                      {"by_kind", r.usage.ToJson()},
                      {"archive_seconds", r.archive_seconds},
                      {"restore_checked", r.restore_checked},
                      {"restore_equal", r.restore_equal},
                      {"load_average", r.load_average}};
  if (r.kind == "mix")
    j.update({{"min_size", o.min_size}, {"max_size", o.max_size}, {"seed", o.seed}});
  return j;
}

void PrintSpaceRow(const bench::SpaceRow& r) {
  auto alloc = [&](const char* kind) {
    auto it = r.usage.kinds.find(kind);
    return it == r.usage.kinds.end() ? 0.0 : it->second.allocated / 1e6;
  };
  std::printf(
      "%-7s %-8s %6d %11.1f %11.1f %8.3f %5.2f %-4s %8.3f %10.1f %9.2f %8.2f %7.2f %8.3f %d/%d\n",
      r.kind.c_str(), r.way.c_str(), r.files, r.source_bytes / 1e6, r.usage.allocated / 1e6,
      r.ratio, r.floor, r.pass ? "pass" : "FAIL", r.apparent_ratio, alloc("chunk"),
      alloc("manifest"), alloc("other"), alloc("dir"), r.identity.allocated / 1e6, r.restore_equal,
      r.restore_checked);
}

void AddSpace(CLI::App* bench, int& exit_code) {
  auto a = std::make_shared<SpaceArgs>();
  auto* cmd = bench->add_subcommand(
      "space",
      "Bytes allocated on the targets over source bytes: a log-spread mix of files archived "
      "with `fls archive` and through the service, and single files (runs the fls binary)");
  cmd->add_option("--files", a->o.files, "Files in the mix, at least (default 300)");
  cmd->add_option("--min", a->min, "Smallest file of the mix (default 1K)");
  cmd->add_option("--max", a->max, "Largest file of the mix (default 64M)");
  cmd->add_option("--total-min", a->total_min,
                  "More files (same spread) until the mix holds this much (default 500M)");
  cmd->add_option("--seed", a->o.seed, "Seed of sizes and contents (default 1)");
  cmd->add_option("--single", a->singles,
                  "Single-file sizes, SIZE or SIZE+N (default 1M,1M+1,3M,10M+1,100M+1; none)")
      ->delimiter(',');
  cmd->add_option("--way", a->ways, "cli, service (default both; none: singles only)")
      ->delimiter(',');
  cmd->add_option("--restore-sample", a->o.restore_sample,
                  "Mix files restored and compared per way (default 8)");
  cmd->add_option("--dir", a->o.dir, "Directory to work in (default .; needs room for ~6x mix)");
  cmd->add_option("--fls", a->o.fls, "The fls binary to measure (default: this one)");
  cmd->add_option("--timeout-s", a->o.timeout_s, "Limit per fls command (default 3600)")
      ->check(CLI::Range(1, 86400));
  cmd->add_flag("--keep", a->o.keep, "Keep the work directory");
  cmd->add_flag("--enforce", a->enforce, "Exit 1 when a ratio is above its floor");
  cmd->add_flag("--json", a->json, "One JSON object per line");
  cmd->callback([a, &exit_code] {
    Status s = ParseSpaceArgs(a.get());
    bool all_pass = true, header = !a->json;
    if (s.ok())
      s = bench::RunSpaceBench(a->o, [&](const bench::SpaceRow& r) {
        all_pass = all_pass && r.pass;
        if (header)
          std::printf("%-7s %-8s %6s %11s %11s %8s %5s %-4s %8s %10s %9s %8s %7s %8s %s\n", "case",
                      "way", "files", "source MB", "alloc MB", "ratio", "floor", "", "apparent",
                      "chunks MB", "manif. MB", "other MB", "dirs MB", "init MB", "restored");
        header = false;
        if (a->json)
          std::printf("%s\n", SpaceJson(a->o, r).dump().c_str());
        else
          PrintSpaceRow(r);
        std::fflush(stdout);
      });
    if (!s.ok()) std::fprintf(stderr, "fls bench space: %s\n", s.ToString().c_str());
    exit_code = !s.ok() ? ExitCodeFor(s) : (a->enforce && !all_pass ? kExitFailure : kExitOk);
  });
}

struct CatalogueArgs {
  bench::CatalogueBenchOptions o;
  std::string min = "1K", max = "4K";
  bool json = false, no_service = false, enforce = false;
};

void PrintCatalogueRow(const nlohmann::json& j) {
  const std::string op = j.value("op", "");
  if (op == "summary") {
    std::printf("summary %-26s %7d -> %7d objects: %8.3f s -> %8.3f s  ratio %6.2f",
                j.value("figure", "").c_str(), j.value("small_objects", 0),
                j.value("large_objects", 0), j.value("small_s", 0.0), j.value("large_s", 0.0),
                j.value("ratio", 0.0));
    if (j.contains("floor"))
      std::printf("  floor %.2f %s", j["floor"].get<double>(),
                  j.value("pass", false) ? "pass" : "FAIL");
    if (j.contains("cpu_ratio")) std::printf("  (cpu ratio %.2f)", j["cpu_ratio"].get<double>());
  } else if (op == "re-archive") {
    std::printf(
        "%-14s %-8s %7d objects %5d files: first %8.3f s, again %8.3f s  ratio %5.2f  "
        "floor %.2f %s",
        op.c_str(), j.value("way", "").c_str(), j.value("objects", 0), j.value("files", 0),
        j.value("first_s", 0.0), j.value("again_s", 0.0), j.value("ratio", 0.0),
        j.value("floor", 0.0), j.value("pass", false) ? "pass" : "FAIL");
  } else if (j.contains("median_s")) {
    std::printf("%-14s %-8s %7d objects: median %8.3f s, best %8.3f s (%d runs, cpu %.3f s)",
                op.c_str(), "", j.value("objects", 0), j.value("median_s", 0.0),
                j.value("best_s", 0.0), j.value("runs", 0), j.value("cpu_median_s", 0.0));
  } else {
    std::printf("%-14s %-8s %7d objects %5d files: %9.3f s (%.4f s per object)", op.c_str(),
                j.value("way", "").c_str(), j.value("objects", 0), j.value("files", 0),
                j.value("seconds", 0.0), j.value("per_object_s", 0.0));
  }
  std::printf("\n");
}

void AddCatalogue(CLI::App* bench, int& exit_code) {
  auto a = std::make_shared<CatalogueArgs>();
  auto* cmd = bench->add_subcommand(
      "catalogue",
      "Whole-command times of info, restore and ls of a small object as the store grows, and "
      "re-archiving already-archived files (runs the fls binary)");
  cmd->add_option("--objects", a->o.objects, "Store sizes (default 200,20000)")->delimiter(',');
  cmd->add_option("--runs", a->o.runs, "Timed runs of each command per store (default 5)");
  cmd->add_option("--batch", a->o.batch, "Files per `fls archive` call when building (500)");
  cmd->add_option("--rearchive", a->o.rearchive, "Files of the re-archive test (default 100)");
  cmd->add_option("--min", a->min, "Smallest object (default 1K)");
  cmd->add_option("--max", a->max, "Largest object (default 4K)");
  cmd->add_option("--seed", a->o.seed, "Seed of sizes and contents (default 1)");
  cmd->add_flag("--no-service", a->no_service, "Skip the re-archive test through the service");
  cmd->add_option("--dir", a->o.dir, "Directory to work in (default .)");
  cmd->add_option("--fls", a->o.fls, "The fls binary to measure (default: this one)");
  cmd->add_option("--timeout-s", a->o.timeout_s, "Limit per fls command (default 3600)")
      ->check(CLI::Range(1, 86400));
  cmd->add_flag("--keep", a->o.keep, "Keep the work directory");
  cmd->add_flag("--enforce", a->enforce, "Exit 1 when a figure is above its floor");
  cmd->add_flag("--json", a->json, "One JSON object per line");
  cmd->callback([a, &exit_code] {
    Status s = ParseByteSize(a->min, &a->o.min_size).WithContext("--min");
    if (s.ok()) s = ParseByteSize(a->max, &a->o.max_size).WithContext("--max");
    a->o.service = !a->no_service;
    bool all_pass = true;
    if (s.ok())
      s = bench::RunCatalogueBench(a->o, [&](const nlohmann::json& j) {
        if (j.contains("pass")) all_pass = all_pass && j["pass"].get<bool>();
        if (a->json) {
          nlohmann::json row = {{"bench", "catalogue"}};
          row.update(j);
          std::printf("%s\n", row.dump().c_str());
        } else {
          PrintCatalogueRow(j);
        }
        std::fflush(stdout);
      });
    if (!s.ok()) std::fprintf(stderr, "fls bench catalogue: %s\n", s.ToString().c_str());
    exit_code = !s.ok() ? ExitCodeFor(s) : (a->enforce && !all_pass ? kExitFailure : kExitOk);
  });
}

}  // namespace

void AddBenchStoreCommands(CLI::App& app, int& exit_code) {
  CLI::App* bench = app.get_subcommand("bench");
  AddSpace(bench, exit_code);
  AddCatalogue(bench, exit_code);
}

}  // namespace fls::cli
