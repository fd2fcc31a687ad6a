#include "space_bench.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

#include "fls_process.h"

namespace fls::bench {
namespace {

namespace fs = std::filesystem;

constexpr int kK = 10, kM = 4, kTargets = kK + kM;
constexpr double kMixFloor = 1.50, kSingleFloor = 1.45;

// File sizes spread evenly in log scale: file i falls in the i-th of n equal
// slices of [log min, log max], at a seeded place inside it. More files
// (the same spread) until the total reaches total_min.
Status MixSizes(const SpaceBenchOptions& o, std::vector<std::uint64_t>* sizes) {
  if (o.files < 1 || o.min_size < 1 || o.min_size > o.max_size)
    return Status::InvalidArgument("bench space: need --files >= 1 and 1 <= --min <= --max");
  std::uint64_t n = static_cast<std::uint64_t>(o.files);
  for (int round = 0; round < 64; ++round) {
    std::mt19937_64 rng(o.seed);
    std::uniform_real_distribution<double> u01(0.0, 1.0);
    const double lo = std::log(static_cast<double>(o.min_size));
    const double hi = std::log(static_cast<double>(o.max_size));
    sizes->clear();
    std::uint64_t total = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      const double u = (static_cast<double>(i) + u01(rng)) / static_cast<double>(n);
      const auto s = static_cast<std::uint64_t>(std::llround(std::exp(lo + u * (hi - lo))));
      sizes->push_back(std::clamp(s, o.min_size, o.max_size));
      total += sizes->back();
    }
    if (total >= o.total_min) {
      std::shuffle(sizes->begin(), sizes->end(), rng);  // archive order not by size
      return Status::Ok();
    }
    const double scale = static_cast<double>(o.total_min) / static_cast<double>(total);
    n = static_cast<std::uint64_t>(std::ceil(static_cast<double>(n) * scale)) + 1;
    if (n > 1000000)
      return Status::InvalidArgument(
          "bench space: --total-min needs over 1,000,000 files of "
          "--min..--max; raise --max or lower --total-min");
  }
  return Status::Internal("bench space: the file count did not converge");
}

std::vector<std::string> TargetDirs(const std::string& root) {
  std::vector<std::string> t;
  for (int i = 0; i < kTargets; ++i) {
    char name[8];
    std::snprintf(name, sizeof name, "t%02d", i);
    t.push_back(root + "/" + name);
  }
  return t;
}

// A store YAML for `fls archive --store` over `targets`, one domain each.
Status WriteStoreYaml(const std::string& path, const std::vector<std::string>& targets) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  std::ofstream f(path);
  f << "targets:\n";
  for (std::size_t i = 0; i < targets.size(); ++i)
    f << "  - {path: " << targets[i] << ", domain: d" << i << "}\n";
  f.flush();
  return f ? Status::Ok() : Status::IOError("cannot write " + path);
}

// Indices of `count` files spread over the sizes: the smallest, the
// largest and evenly between.
std::vector<std::size_t> Sample(const std::vector<std::uint64_t>& sizes, int count) {
  std::vector<std::size_t> order(sizes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return sizes[a] < sizes[b]; });
  std::vector<std::size_t> out;
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(count), order.size());
  for (std::size_t j = 0; j < n; ++j)
    out.push_back(order[n == 1 ? 0 : j * (order.size() - 1) / (n - 1)]);
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

struct Work {
  const SpaceBenchOptions& o;
  const FlsRunner& fls;
  std::string root;              // the work directory
  std::vector<std::string> mix;  // source paths (canonical)
  std::vector<std::uint64_t> sizes;
};

// The store before anything is archived: the target directories, made and
// measured empty, then formatted by `fls init ARGS` (their identity files)
// and measured again. `empty` is the first measure, `baseline` the second.
Status InitialisedStore(const Work& w, const std::vector<std::string>& targets,
                        std::vector<std::string> init_args, SpaceUsage* empty,
                        SpaceUsage* baseline) {
  for (const auto& t : targets) {
    std::error_code ec;
    fs::create_directories(t, ec);
    if (ec) return Status::IOError("cannot create target " + t + ": " + ec.message());
  }
  FLS_RETURN_IF_ERROR(MeasureSpace(targets, empty));
  init_args.insert(init_args.begin(), {"init", "-q"});
  CommandResult r;
  FLS_RETURN_IF_ERROR(w.fls.Run(init_args, "init", &r));
  return MeasureSpace(targets, baseline);
}

// `fls init` arguments naming `targets` with the domains WriteStoreYaml and
// the service's config give them (d0, d1, ...).
std::vector<std::string> InitTargetArgs(const std::vector<std::string>& targets) {
  std::vector<std::string> args;
  for (std::size_t i = 0; i < targets.size(); ++i)
    args.insert(args.end(), {"--target", targets[i] + "=d" + std::to_string(i)});
  return args;
}

// What the targets hold now beyond `empty`.
Status ArchiveCost(const std::vector<std::string>& targets, const SpaceUsage& empty,
                   SpaceUsage* cost) {
  SpaceUsage now;
  FLS_RETURN_IF_ERROR(MeasureSpace(targets, &now));
  *cost = now.Since(empty);
  return Status::Ok();
}

SpaceRow MakeRow(const std::string& kind, const std::string& way, int files, std::uint64_t source,
                 const SpaceUsage& u, double floor, const SpaceUsage& empty,
                 const SpaceUsage& baseline) {
  SpaceRow r;
  r.empty_targets_allocated = empty.allocated;
  r.identity = baseline.Since(empty);
  r.kind = kind;
  r.way = way;
  r.files = files;
  r.source_bytes = source;
  r.usage = u;
  r.ratio = source ? static_cast<double>(u.allocated) / static_cast<double>(source) : 0;
  r.apparent_ratio = source ? static_cast<double>(u.apparent) / static_cast<double>(source) : 0;
  r.floor = floor;
  r.ideal = static_cast<double>(kK + kM) / kK;
  r.pass = r.ratio <= floor;
  r.load_average = LoadAverage();
  return r;
}

// Restores `names` with `fls restore` one by one and compares each with its
// source; counts the equal ones. A file that differs is recorded, not fatal
// here: the row is still reported, and the run fails after it.
Status RestoreCli(const Work& w, const std::string& store,
                  const std::vector<std::pair<std::string, std::string>>& name_source,
                  SpaceRow* row, Status* mismatch) {
  const std::string out = w.root + "/out/cli";
  fs::create_directories(out);
  for (const auto& [name, source] : name_source) {
    const std::string dest = out + "/" + name;
    CommandResult r;
    FLS_RETURN_IF_ERROR(
        w.fls.Run({"restore", "--store", store, "-q", name, "-o", dest}, "restore", &r));
    ++row->restore_checked;
    Status c = CompareFiles(source, dest);
    if (c.ok())
      ++row->restore_equal;
    else if (mismatch->ok())
      *mismatch = c;
    fs::remove(dest);
  }
  return Status::Ok();
}

Status ArchiveCliBatches(const Work& w, const std::string& store,
                         const std::vector<std::string>& files, double* seconds) {
  for (std::size_t i = 0; i < files.size(); i += 256) {
    std::vector<std::string> args = {"archive", "--store", store, "-q"};
    for (std::size_t j = i; j < std::min(files.size(), i + 256); ++j) args.push_back(files[j]);
    CommandResult r;
    FLS_RETURN_IF_ERROR(w.fls.Run(args, "archive", &r));
    *seconds += r.seconds;
  }
  return Status::Ok();
}

Status MixCli(const Work& w, const std::uint64_t total, SpaceRow* row, Status* mismatch) {
  const std::string base = w.root + "/cli";
  const std::vector<std::string> targets = TargetDirs(base);
  SpaceUsage empty, baseline, u;
  const std::string store = base + "/fls-store.yaml";
  FLS_RETURN_IF_ERROR(WriteStoreYaml(store, targets));
  FLS_RETURN_IF_ERROR(InitialisedStore(w, targets, {"--store", store}, &empty, &baseline));
  double secs = 0;
  FLS_RETURN_IF_ERROR(ArchiveCliBatches(w, store, w.mix, &secs));
  FLS_RETURN_IF_ERROR(ArchiveCost(targets, baseline, &u));
  *row =
      MakeRow("mix", "cli", static_cast<int>(w.mix.size()), total, u, kMixFloor, empty, baseline);
  row->archive_seconds = secs;
  std::vector<std::pair<std::string, std::string>> sample;
  for (std::size_t i : Sample(w.sizes, w.o.restore_sample))
    sample.push_back({fs::path(w.mix[i]).filename().string(), w.mix[i]});
  FLS_RETURN_IF_ERROR(RestoreCli(w, store, sample, row, mismatch));
  if (!w.o.keep) fs::remove_all(base);
  return Status::Ok();
}

Status MixService(const Work& w, const std::uint64_t total, SpaceRow* row, Status* mismatch) {
  const std::string base = w.root + "/service", state = w.root + "/service-state";
  const std::string out = w.root + "/out/service";
  const std::vector<std::string> targets = TargetDirs(base);
  SpaceUsage empty, baseline, u;
  FLS_RETURN_IF_ERROR(InitialisedStore(w, targets, InitTargetArgs(targets), &empty, &baseline));
  fs::create_directories(state);
  fs::create_directories(out);
  ServiceProcess svc(w.fls, state);
  const std::string src_dir = fs::path(w.mix.front()).parent_path().string();
  FLS_RETURN_IF_ERROR(svc.Start(targets, kK, kM, w.root + "/src", w.root + "/out"));
  CommandResult r;
  FLS_RETURN_IF_ERROR(svc.SubmitAndWait("archive", {src_dir}, "submit-archive", &r));
  // The store at rest: measured with the service stopped.
  FLS_RETURN_IF_ERROR(svc.Stop());
  FLS_RETURN_IF_ERROR(ArchiveCost(targets, baseline, &u));
  *row = MakeRow("mix", "service", static_cast<int>(w.mix.size()), total, u, kMixFloor, empty,
                 baseline);
  row->archive_seconds = r.seconds;
  // Objects are named by the file's resolved path without its leading '/';
  // a restore job writes object NAME to OUTPUT/NAME.
  std::vector<std::string> names;
  std::vector<std::size_t> picked = Sample(w.sizes, w.o.restore_sample);
  for (std::size_t i : picked) names.push_back(w.mix[i].substr(1));
  FLS_RETURN_IF_ERROR(svc.Start(targets, kK, kM, w.root + "/src", w.root + "/out"));
  std::vector<std::string> args = names;
  args.insert(args.end(), {"-o", out});
  FLS_RETURN_IF_ERROR(svc.SubmitAndWait("restore", args, "submit-restore", &r));
  FLS_RETURN_IF_ERROR(svc.Stop());
  for (std::size_t j = 0; j < picked.size(); ++j) {
    ++row->restore_checked;
    Status c = CompareFiles(w.mix[picked[j]], out + "/" + names[j]);
    if (c.ok())
      ++row->restore_equal;
    else if (mismatch->ok())
      *mismatch = c;
  }
  if (!w.o.keep) {
    fs::remove_all(base);
    fs::remove_all(out);
  }
  return Status::Ok();
}

Status Single(const Work& w, std::uint64_t size, SpaceRow* row, Status* mismatch) {
  const std::string base = w.root + "/single-" + std::to_string(size);
  const std::string src = w.root + "/src/single/s-" + std::to_string(size);
  FLS_RETURN_IF_ERROR(WriteSeededFile(src, size, w.o.seed * 1000003 + size));
  const std::vector<std::string> targets = TargetDirs(base);
  SpaceUsage empty, baseline, u;
  const std::string store = base + "/fls-store.yaml";
  FLS_RETURN_IF_ERROR(WriteStoreYaml(store, targets));
  FLS_RETURN_IF_ERROR(InitialisedStore(w, targets, {"--store", store}, &empty, &baseline));
  double secs = 0;
  FLS_RETURN_IF_ERROR(ArchiveCliBatches(w, store, {src}, &secs));
  FLS_RETURN_IF_ERROR(ArchiveCost(targets, baseline, &u));
  *row = MakeRow("single", "cli", 1, size, u, kSingleFloor, empty, baseline);
  row->archive_seconds = secs;
  FLS_RETURN_IF_ERROR(
      RestoreCli(w, store, {{fs::path(src).filename().string(), src}}, row, mismatch));
  if (!w.o.keep) {
    fs::remove_all(base);
    fs::remove(src);
  }
  return Status::Ok();
}

}  // namespace

Status RunSpaceBench(const SpaceBenchOptions& o, const std::function<void(const SpaceRow&)>& emit) {
  std::vector<std::uint64_t> sizes;
  FLS_RETURN_IF_ERROR(MixSizes(o, &sizes));
  if (o.restore_sample < 1) return Status::InvalidArgument("bench space: --restore-sample >= 1");
  for (std::uint64_t s : o.singles)
    if (s == 0) return Status::InvalidArgument("bench space: --single sizes must be above 0");
  BenchWorkDir work;
  FLS_RETURN_IF_ERROR(work.Create(o.dir, "fls-bench-space", o.keep));
  const std::string& root = work.path();
  FlsRunner fls(o.fls.empty() ? SelfExecutable() : o.fls, work.logs(), o.timeout_s);
  Work w{o, fls, root, {}, sizes};
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "/src/mix/f%06zu", i);
    w.mix.push_back(root + name);
    FLS_RETURN_IF_ERROR(WriteSeededFile(w.mix.back(), sizes[i], o.seed * 1000003 + i));
    total += sizes[i];
  }
  ::sync();  // the first archive does not pay for the source's writeback
  Status mismatch;
  SpaceRow row;
  if (o.cli) {
    FLS_RETURN_IF_ERROR(MixCli(w, total, &row, &mismatch));
    emit(row);
  }
  if (o.service) {
    FLS_RETURN_IF_ERROR(MixService(w, total, &row, &mismatch));
    emit(row);
  }
  if (!o.keep) {
    std::error_code ec;  // the mix's sources are not needed by the single-file rows
    fs::remove_all(root + "/src/mix", ec);
  }
  for (std::uint64_t size : o.singles) {
    FLS_RETURN_IF_ERROR(Single(w, size, &row, &mismatch));
    emit(row);
  }
  return mismatch.ok() ? Status::Ok()
                       : Status::Corruption("a restored file differs: " + mismatch.ToString());
}

}  // namespace fls::bench
