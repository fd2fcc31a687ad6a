#include "catalogue_bench.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "fls_process.h"
#include "store_files.h"

namespace fls::bench {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr int kK = 10, kM = 4;
constexpr double kGrowthFloor = 1.5, kRearchiveFloor = 0.2;

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Ctx {
  const CatalogueBenchOptions& o;
  const FlsRunner& fls;
  const std::function<void(const Json&)>& emit;
  std::string root;
  std::vector<std::string> files;  // source files, o0000000... (the object names)
  // Medians per store size and op, for the summary rows.
  std::map<std::string, std::map<int, double>> medians;
  // CPU time (user + system) of the same commands: what load from other
  // work on the machine does not stretch.
  std::map<std::string, std::map<int, double>> cpu_medians;
};

std::string ObjectName(int i) {
  char name[16];
  std::snprintf(name, sizeof name, "o%07d", i);
  return name;
}

// Source files up to index n, made on first need (the same files for every
// store size, so sizes differ only in how many objects the store holds).
Status EnsureFiles(Ctx& c, int n) {
  std::mt19937_64 rng(c.o.seed);
  for (int i = 0; i < static_cast<int>(c.files.size()); ++i) rng();
  for (int i = static_cast<int>(c.files.size()); i < n; ++i) {
    const std::uint64_t size = c.o.min_size + rng() % (c.o.max_size - c.o.min_size + 1);
    c.files.push_back(c.root + "/src/" + ObjectName(i));
    FLS_RETURN_IF_ERROR(WriteSeededFile(c.files.back(), size, c.o.seed * 7919 + i));
  }
  return Status::Ok();
}

// `fls ls --json` lines, counted as they are read.
Status CountObjects(const Ctx& c, const std::string& store, std::uint64_t* count,
                    CommandResult* r = nullptr) {
  CommandResult local;
  if (r == nullptr) r = &local;
  FLS_RETURN_IF_ERROR(c.fls.Run({"ls", "--store", store, "--json"}, "ls", r));
  std::ifstream in(r->out_path, std::ios::binary);
  std::vector<char> buf(1 << 16);
  *count = 0;
  while (in.read(buf.data(), static_cast<std::streamsize>(buf.size())) || in.gcount() > 0)
    *count += static_cast<std::uint64_t>(std::count(buf.begin(), buf.begin() + in.gcount(), '\n'));
  return Status::Ok();
}

// `fls archive` of files [from, to) in calls of o.batch files; the time of
// all calls. With `allow_failure` (re-archive) exit codes other than 0 are
// returned in *exit_code rather than failing.
Status ArchiveRange(Ctx& c, const std::string& store, int from, int to, const char* what,
                    double* seconds, bool allow_failure = false, int* exit_code = nullptr) {
  const auto t0 = std::chrono::steady_clock::now();
  *seconds = 0;
  for (int i = from; i < to; i += c.o.batch) {
    // One object per file: the bench measures lookups among objects (a
    // store of packed files is measured by the service rows).
    std::vector<std::string> args = {"archive", "--store", store, "-q", "--no-pack"};
    for (int j = i; j < std::min(to, i + c.o.batch); ++j) args.push_back(c.files[j]);
    CommandResult r;
    FLS_RETURN_IF_ERROR(c.fls.Run(args, "archive", &r, allow_failure));
    *seconds += r.seconds;
    if (exit_code != nullptr) *exit_code = std::max(*exit_code, r.exit_code);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "fls bench catalogue: %s: %d/%d files (%.0f s)\n", what,
                 std::min(to, i + c.o.batch) - from, to - from, elapsed);
  }
  return Status::Ok();
}

Json TimingRow(const std::string& op, int n, const std::vector<double>& wall,
               const std::vector<double>& cpu) {
  return {{"op", op},
          {"objects", n},
          {"runs", wall.size()},
          {"median_s", Median(wall)},
          {"best_s", *std::min_element(wall.begin(), wall.end())},
          {"all_s", wall},
          {"cpu_median_s", Median(cpu)},
          {"load_average", LoadAverage()}};
}

// info, restore and ls, `runs` rounds, interleaved so that drift on a shared
// machine touches all three alike.
Status TimeLookups(Ctx& c, int n, const std::string& store) {
  const int pick = n / 2;
  const std::string name = ObjectName(pick);
  const std::string out = c.root + "/out/" + name;
  fs::create_directories(c.root + "/out");
  std::map<std::string, std::vector<double>> wall, cpu;
  bool equal = true;
  std::string differs;
  std::uint64_t listed = 0;
  // The store was just written: let its writeback end first, so that the
  // fsyncs of the restores below (output and directory) do not wait behind
  // it. What is timed is a lookup in a store of n objects, not the build.
  ::sync();
  for (int run = 0; run < c.o.runs; ++run) {
    CommandResult r;
    FLS_RETURN_IF_ERROR(c.fls.Run({"info", "--store", store, name}, "info", &r));
    wall["info"].push_back(r.seconds);
    cpu["info"].push_back(r.cpu_seconds);
    FLS_RETURN_IF_ERROR(
        c.fls.Run({"restore", "--store", store, "-q", name, "-o", out}, "restore", &r));
    wall["restore"].push_back(r.seconds);
    cpu["restore"].push_back(r.cpu_seconds);
    Status cmp = CompareFiles(c.files[pick], out);
    if (!cmp.ok()) {
      equal = false;
      differs = cmp.ToString();
    }
    fs::remove(out);
    FLS_RETURN_IF_ERROR(CountObjects(c, store, &listed, &r));
    wall["ls"].push_back(r.seconds);
    cpu["ls"].push_back(r.cpu_seconds);
  }
  for (const char* op : {"info", "restore", "ls"}) {
    Json row = TimingRow(op, n, wall[op], cpu[op]);
    if (std::string(op) == "restore") {
      row["object_bytes"] = fs::file_size(c.files[pick]);
      row["restore_equal"] = equal;
      if (!equal) row["restore_error"] = differs;
    }
    if (std::string(op) == "ls") row["listed"] = listed;
    c.medians[op][n] = row["median_s"].get<double>();
    c.cpu_medians[op][n] = row["cpu_median_s"].get<double>();
    c.emit(row);
  }
  if (!equal) return Status::Corruption("restored object differs: " + differs);
  if (listed != static_cast<std::uint64_t>(n))
    return Status::Internal("`fls ls` listed " + std::to_string(listed) + " objects, expected " +
                            std::to_string(n));
  return Status::Ok();
}

Json RearchiveRow(const std::string& way, int n, int files, double first, double again) {
  const double ratio = first > 0 ? again / first : 0;
  return {{"op", "re-archive"},
          {"way", way},
          {"objects", n},
          {"files", files},
          {"first_s", first},
          {"again_s", again},
          {"ratio", ratio},
          {"floor", kRearchiveFloor},
          {"pass", ratio <= kRearchiveFloor},
          {"load_average", LoadAverage()}};
}

// The held-out files again with `fls archive`: every one is already in the
// store. Today's CLI refuses each with "already exists" (exit 2); a CLI
// that skips them exits 0. Either way the store must not gain an object.
Status RearchiveCli(Ctx& c, int n, int held, const std::string& store, double first) {
  double again = 0;
  int exit_code = 0;
  const std::string what = "store of " + std::to_string(n) + ": re-archive (cli)";
  FLS_RETURN_IF_ERROR(ArchiveRange(c, store, n - held, n, what.c_str(), &again,
                                   /*allow_failure=*/true, &exit_code));
  if (exit_code != 0 && exit_code != 2)
    return Status::Internal("re-archive with `fls archive` exited " + std::to_string(exit_code) +
                            " (expected 0, or 2 for 'already exists'); see its log in " + c.root +
                            "/logs");
  std::uint64_t listed = 0;
  FLS_RETURN_IF_ERROR(CountObjects(c, store, &listed));
  Json row = RearchiveRow("cli", n, held, first, again);
  row["exit_code"] = exit_code;
  row["objects_after"] = listed;
  c.medians["re-archive cli"][n] = again;
  c.emit(row);
  if (listed != static_cast<std::uint64_t>(n))
    return Status::Internal("re-archive changed the store: " + std::to_string(listed) +
                            " objects listed, expected " + std::to_string(n));
  return Status::Ok();
}

// The held-out files through the service: the first job archives them (as
// new objects named by their paths; small files packed), then `runs` jobs
// find them all archived (the median is the figure). Jobs are submitted
// over the protocol from this process and waited for with STATUS held
// until they end: what a client program sees. One more re-archive is a
// whole `fls submit archive --wait` command, reported beside them: it adds
// the start of an fls process.
Status RearchiveService(Ctx& c, int n, int held, const std::vector<std::string>& targets,
                        const std::string& store) {
  const std::string state = c.root + "/service-" + std::to_string(n);
  fs::create_directories(state);
  ServiceProcess svc(c.fls, state);
  FLS_RETURN_IF_ERROR(svc.Start(targets, kK, kM, c.root + "/src", c.root + "/out"));
  std::vector<std::string> files(c.files.begin() + (n - held), c.files.begin() + n);
  std::fprintf(stderr, "fls bench catalogue: store of %d: re-archive (service)\n", n);
  const Json spec = {{"kind", "archive"}, {"paths", files}};
  double first = 0;
  Json first_job;
  FLS_RETURN_IF_ERROR(svc.SubmitOverProtocol(spec, &first, &first_job));
  std::uint64_t after_first = 0, after_again = 0;
  FLS_RETURN_IF_ERROR(CountObjects(c, store, &after_first));
  std::vector<double> again, again_job;
  for (int r = 0; r < c.o.runs; ++r) {
    double seconds = 0;
    Json job;
    FLS_RETURN_IF_ERROR(svc.SubmitOverProtocol(spec, &seconds, &job));
    again.push_back(seconds);
    again_job.push_back(job.value("seconds", 0.0));
  }
  CommandResult cli;
  FLS_RETURN_IF_ERROR(svc.SubmitAndWait("archive", files, "submit-again", &cli));
  FLS_RETURN_IF_ERROR(CountObjects(c, store, &after_again));
  FLS_RETURN_IF_ERROR(svc.Stop());
  Json row = RearchiveRow("service", n, held, first, Median(again));
  row["again_runs_s"] = again;
  row["again_cli_s"] = cli.seconds;  // the whole `fls submit archive --wait` command
  // The worker's own time for each job (STATUS `seconds`): no SUBMIT, no
  // journal commit, no dispatch.
  const double first_job_s = first_job.value("seconds", 0.0);
  const double again_job_s = Median(again_job);
  row["first_job_s"] = first_job_s;
  row["again_job_s"] = again_job_s;
  row["job_ratio"] = first_job_s > 0 ? again_job_s / first_job_s : 0;
  row["objects_after_first"] = after_first;
  row["objects_after"] = after_again;
  c.medians["re-archive service"][n] = Median(again);
  c.emit(row);
  if (after_again != after_first)
    return Status::Internal(
        "re-archive through the service changed the store: " + std::to_string(after_first) +
        " objects before, " + std::to_string(after_again) + " after");
  return Status::Ok();
}

Status MeasureStoreSize(Ctx& c, int n) {
  const int held = std::min(c.o.rearchive, n);
  FLS_RETURN_IF_ERROR(EnsureFiles(c, n));
  const std::string base = c.root + "/store-" + std::to_string(n);
  std::vector<std::string> targets;
  std::ofstream yaml(base + ".yaml");
  yaml << "targets:\n";
  for (int i = 0; i < kK + kM; ++i) {
    char t[8];
    std::snprintf(t, sizeof t, "/t%02d", i);
    targets.push_back(base + t);
    fs::create_directories(targets.back());
    yaml << "  - {path: " << targets.back() << ", domain: d" << i << "}\n";
  }
  yaml.close();
  if (!yaml) return Status::IOError("cannot write " + base + ".yaml");
  const std::string store = base + ".yaml";
  const std::string what = "store of " + std::to_string(n);
  double build = 0, first = 0;
  FLS_RETURN_IF_ERROR(ArchiveRange(c, store, 0, n - held, (what + ": build").c_str(), &build));
  FLS_RETURN_IF_ERROR(
      ArchiveRange(c, store, n - held, n, (what + ": first archive").c_str(), &first));
  c.emit({{"op", "build"},
          {"objects", n},
          {"files", n - held},
          {"seconds", build},
          {"per_object_s", n > held ? build / (n - held) : 0},
          {"files_per_call", c.o.batch}});
  c.emit({{"op", "archive-first"},
          {"way", "cli"},
          {"objects", n},
          {"files", held},
          {"seconds", first},
          {"per_object_s", first / held}});
  c.medians["first archive per object"][n] = first / held;
  std::fprintf(stderr, "fls bench catalogue: %s: timing info, restore, ls\n", what.c_str());
  FLS_RETURN_IF_ERROR(TimeLookups(c, n, store));
  FLS_RETURN_IF_ERROR(RearchiveCli(c, n, held, store, first));
  if (c.o.service) FLS_RETURN_IF_ERROR(RearchiveService(c, n, held, targets, store));
  if (!c.o.keep) {
    std::error_code ec;
    fs::remove_all(base, ec);
  }
  return Status::Ok();
}

// The largest store against the smallest, for each measured figure.
void EmitSummary(Ctx& c) {
  for (const auto& [op, by_n] : c.medians) {
    if (by_n.size() < 2) continue;
    const auto& [small_n, small_s] = *by_n.begin();
    const auto& [large_n, large_s] = *by_n.rbegin();
    const double ratio = small_s > 0 ? large_s / small_s : 0;
    Json row = {{"op", "summary"},
                {"figure", op},
                {"small_objects", small_n},
                {"large_objects", large_n},
                {"small_s", small_s},
                {"large_s", large_s},
                {"ratio", ratio}};
    if (auto cpu = c.cpu_medians.find(op); cpu != c.cpu_medians.end()) {
      const double small_cpu = cpu->second.begin()->second;
      const double large_cpu = cpu->second.rbegin()->second;
      row["cpu_small_s"] = small_cpu;
      row["cpu_large_s"] = large_cpu;
      row["cpu_ratio"] = small_cpu > 0 ? large_cpu / small_cpu : 0;
    }
    if (op == "info" || op == "restore") {
      row["floor"] = kGrowthFloor;
      row["pass"] = ratio <= kGrowthFloor;
    }
    c.emit(row);
  }
}

}  // namespace

Status RunCatalogueBench(const CatalogueBenchOptions& o,
                         const std::function<void(const Json&)>& emit) {
  if (o.objects.empty()) return Status::InvalidArgument("bench catalogue: no --objects");
  for (int n : o.objects)
    if (n < 2 || n > 10000000)
      return Status::InvalidArgument("bench catalogue: --objects must be 2 to 10,000,000 (got " +
                                     std::to_string(n) + ")");
  if (o.runs < 1 || o.runs > 1000 || o.batch < 1 || o.batch > 10000 || o.rearchive < 1)
    return Status::InvalidArgument(
        "bench catalogue: --runs 1-1000, --batch 1-10000 and --rearchive >= 1");
  if (o.min_size < 1 || o.min_size > o.max_size)
    return Status::InvalidArgument("bench catalogue: need 1 <= --min <= --max");
  std::vector<int> sizes = o.objects;
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  BenchWorkDir work;
  FLS_RETURN_IF_ERROR(work.Create(o.dir, "fls-bench-catalogue", o.keep));
  const std::string& root = work.path();
  FlsRunner fls(o.fls.empty() ? SelfExecutable() : o.fls, work.logs(), o.timeout_s);
  Ctx c{o, fls, emit, root, {}, {}, {}};
  for (int n : sizes) FLS_RETURN_IF_ERROR(MeasureStoreSize(c, n));
  EmitSummary(c);
  return Status::Ok();
}

}  // namespace fls::bench
