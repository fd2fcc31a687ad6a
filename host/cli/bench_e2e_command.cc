// `fls bench e2e`: archive and restore of a large file against copying the
// same bytes with cp, measured in the same run, on the same filesystem and
// with the same durability (fls fsyncs every chunk; the baseline runs
// `sync FILE...`, which fsyncs the copies, after cp).
//
//   archive            vs  cp FILE + cp (first 40% of FILE), then sync both
//   restore            vs  cp FILE, then sync
//   restore-degraded   vs  cp FILE, then sync   (data chunks 0..3 deleted)
// Every step starts after a global `sync`; the order of fls and baseline
// alternates between repetitions; so no step pays for the previous
// one's writeback; each runs --repeat times and the medians are reported.
// On a VM whose disk speed drifts from minute to minute, the median of the
// per-repetition ratios (`pair_ratio_median`: each fls run over the baseline
// run right beside it) is the steadier comparison, and is reported too.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "commands.h"
#include "fls/archive.h"
#include "fls/byte_size.h"
#include "fls/env.h"
#include "fls/store.h"

namespace fls::cli {
namespace {

struct E2eArgs {
  std::string size = "1G";
  std::string dir;
  std::string stripe = "10M";
  std::string backend = "auto";
  int k = 10, m = 4;
  int repeat = 3;
  bool json = false, keep = false;
};

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  return q + "'";
}

Status Shell(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  if (rc != 0) return Status::IOError("command failed (" + std::to_string(rc) + "): " + cmd);
  return Status::Ok();
}

// Writes `bytes` of pseudo-random data (incompressible, not all-zero) durably.
Status WriteSample(Env* env, const std::string& path, std::uint64_t bytes, std::uint64_t seed) {
  std::unique_ptr<WritableFile> f;
  FLS_RETURN_IF_ERROR(env->NewWritableFile(path, &f));
  std::vector<std::uint64_t> buf(1 << 17);  // 1 MiB
  std::mt19937_64 rng(seed);
  for (std::uint64_t done = 0; done < bytes;) {
    for (auto& w : buf) w = rng();
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(bytes - done, buf.size() * 8));
    FLS_RETURN_IF_ERROR(f->Append(buf.data(), n));
    done += n;
  }
  FLS_RETURN_IF_ERROR(f->Sync());
  return f->Close();
}

struct Row {
  std::string op;
  std::uint64_t bytes = 0;
  double seconds = 0, baseline_seconds = 0;
  std::string baseline;
  int runs = 1;
  std::vector<double> all, baseline_all;  // every run, in order

  // all[i] / baseline_all[i]: the two runs of one repetition, back to back.
  std::vector<double> PairRatios() const {
    std::vector<double> r;
    for (std::size_t i = 0; i < all.size() && i < baseline_all.size(); ++i)
      r.push_back(baseline_all[i] > 0 ? all[i] / baseline_all[i] : 0);
    return r;
  }
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Status RunE2e(const E2eArgs& a, std::vector<Row>* rows) {
  Env* env = Env::Default();
  std::uint64_t size = 0, stripe = 0;
  FLS_RETURN_IF_ERROR(ParseByteSize(a.size, &size).WithContext("--size"));
  FLS_RETURN_IF_ERROR(ParseByteSize(a.stripe, &stripe).WithContext("--stripe"));
  const std::string dir = a.dir.empty() ? "fls-bench-e2e" : a.dir;
  const std::string work = JoinPath(dir, "fls-bench-e2e-" + std::to_string(getpid()));
  FLS_RETURN_IF_ERROR(env->CreateDirs(work));
  // The work directory goes away however the run ends (unless --keep).
  struct Cleanup {
    std::string dir;
    bool keep;
    ~Cleanup() {
      if (!keep) std::system(("rm -rf " + Quote(dir)).c_str());
    }
  } cleanup{work, a.keep};
  const std::string src = JoinPath(work, "sample.bin"), src40 = JoinPath(work, "sample40.bin");
  FLS_RETURN_IF_ERROR(WriteSample(env, src, size, 42));
  FLS_RETURN_IF_ERROR(Shell("head -c " + std::to_string(size * 4 / 10) + " " + Quote(src) + " > " +
                            Quote(src40) + " && sync " + Quote(src40)));
  const std::string b1 = JoinPath(work, "copy1"), b2 = JoinPath(work, "copy2");
  // Each timed step starts with no dirty pages left over from the last one.
  auto settle = [&]() { return Shell("sync"); };
  auto baseline_copy = [&](bool plus40, double* secs) -> Status {
    FLS_RETURN_IF_ERROR(settle());
    const auto t0 = std::chrono::steady_clock::now();
    std::string cmd = "cp " + Quote(src) + " " + Quote(b1);
    if (plus40) cmd += " && cp " + Quote(src40) + " " + Quote(b2);
    cmd += " && sync " + Quote(b1) + (plus40 ? " " + Quote(b2) : "");
    FLS_RETURN_IF_ERROR(Shell(cmd));
    *secs = Seconds(t0);
    env->RemoveFile(b1);
    if (plus40) env->RemoveFile(b2);
    return Status::Ok();
  };
  const char* ops[] = {"archive", "restore", "restore-degraded"};
  std::vector<std::vector<double>> fls_s(3), base_s(3);
  for (int rep = 0; rep < a.repeat; ++rep) {
    const std::string tdir = JoinPath(work, "targets");
    FLS_RETURN_IF_ERROR(Shell("rm -rf " + Quote(tdir)));
    std::vector<Target> targets;
    for (int i = 0; i < a.k + a.m; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "t%02d", i);
      Target t{JoinPath(tdir, name), std::string("d") + std::to_string(i)};
      FLS_RETURN_IF_ERROR(env->CreateDirs(t.path));
      targets.push_back(t);
    }
    std::unique_ptr<Store> store;
    FLS_RETURN_IF_ERROR(Store::FromTargets(env, targets, &store));
    // Odd repetitions run fls first, even ones the baseline first, so that
    // neither side always inherits the other's page-cache state.
    auto pair = [&](int op, const std::function<Status()>& fls_step) -> Status {
      double secs = 0;
      if (rep % 2 == 0) {
        FLS_RETURN_IF_ERROR(baseline_copy(op == 0, &secs));
        base_s[op].push_back(secs);
      }
      FLS_RETURN_IF_ERROR(settle());
      const auto t0 = std::chrono::steady_clock::now();
      FLS_RETURN_IF_ERROR(fls_step());
      fls_s[op].push_back(Seconds(t0));
      if (rep % 2 == 1) {
        FLS_RETURN_IF_ERROR(baseline_copy(op == 0, &secs));
        base_s[op].push_back(secs);
      }
      return Status::Ok();
    };
    ArchiveOptions ao;
    ao.k = a.k;
    ao.m = a.m;
    ao.stripe_width = stripe;
    ao.backend = a.backend;
    ao.name = "sample";
    ArchiveResult ar;
    FLS_RETURN_IF_ERROR(pair(0, [&] { return ArchiveFile(*store, src, ao, &ar); }));

    const std::string out = JoinPath(work, "restored.bin");
    RestoreOptions ro;
    ro.output = out;
    ro.backend = a.backend;
    RestoreResult rr;
    for (int op = 1; op <= 2; ++op) {
      if (op == 2)
        for (int i = 0; i < std::min(4, a.m); ++i)
          FLS_RETURN_IF_ERROR(env->RemoveFile(ar.manifest.chunks[i].path()));
      FLS_RETURN_IF_ERROR(pair(op, [&] {
        Status st = RestoreObject(*store, "sample", ro, &rr);
        env->RemoveFile(out);
        return st;
      }));
      if (op == 2 && rr.stripes_reconstructed != ar.manifest.stripes)
        return Status::Internal("degraded restore rebuilt " +
                                std::to_string(rr.stripes_reconstructed) +
                                " stripes, expected all");
    }
  }
  for (int op = 0; op < 3; ++op) {
    Row r;
    r.op = ops[op];
    r.bytes = size;
    r.seconds = Median(fls_s[op]);
    r.baseline_seconds = Median(base_s[op]);
    r.runs = a.repeat;
    r.all = fls_s[op];
    r.baseline_all = base_s[op];
    r.baseline = op == 0 ? "cp FILE + cp 40% of FILE, sync both" : "cp FILE, sync";
    rows->push_back(r);
  }
  return Status::Ok();
}

}  // namespace

void AddBenchE2eCommand(CLI::App& app, int& exit_code) {
  CLI::App* bench = app.get_subcommand("bench");
  auto a = std::make_shared<E2eArgs>();
  auto* cmd = bench->add_subcommand(
      "e2e",
      "Archive/restore of a large file vs cp of the same bytes (both fsynced), same filesystem");
  cmd->add_option("--size", a->size, "File size (default 1G)");
  cmd->add_option("--dir", a->dir, "Directory to work in (default ./fls-bench-e2e)");
  cmd->add_option("--stripe", a->stripe, "Stripe width (default 10M)");
  cmd->add_option("--backend", a->backend, "Backend (default auto)");
  cmd->add_option("-k", a->k, "Data chunks (default 10)");
  cmd->add_option("-m", a->m, "Parity chunks (default 4)");
  cmd->add_option("--repeat", a->repeat, "Runs of each step; the median is reported (default 3)")
      ->check(CLI::Range(1, 100));
  cmd->add_flag("--keep", a->keep, "Keep the work directory");
  cmd->add_flag("--json", a->json, "One JSON object per line");
  cmd->callback([a, &exit_code] {
    std::vector<Row> rows;
    Status s = RunE2e(*a, &rows);
    if (!a->json && !rows.empty())
      std::printf("%-17s %12s %9s %8s %12s %7s %7s  %s\n", "op", "bytes", "seconds", "GB/s",
                  "baseline s", "ratio", "pairs", "baseline");
    for (const Row& r : rows) {
      const double gbps = r.seconds > 0 ? r.bytes / r.seconds / 1e9 : 0;
      if (a->json) {
        nlohmann::json j = {{"op", r.op},
                            {"bytes", r.bytes},
                            {"seconds", r.seconds},
                            {"gbps", gbps},
                            {"baseline_seconds", r.baseline_seconds},
                            {"ratio", r.seconds / r.baseline_seconds},
                            {"pair_ratios", r.PairRatios()},
                            {"pair_ratio_median", Median(r.PairRatios())},
                            {"baseline", r.baseline},
                            {"runs", r.runs},
                            {"seconds_all", r.all},
                            {"baseline_seconds_all", r.baseline_all},
                            {"synced", {{"fls", true}, {"baseline", true}}}};
        std::printf("%s\n", j.dump().c_str());
      } else {
        std::printf("%-17s %12llu %9.3f %8.2f %12.3f %7.2f %7.2f  %s\n", r.op.c_str(),
                    static_cast<unsigned long long>(r.bytes), r.seconds, gbps, r.baseline_seconds,
                    r.seconds / r.baseline_seconds, Median(r.PairRatios()), r.baseline.c_str());
      }
    }
    if (!s.ok()) std::fprintf(stderr, "fls bench e2e: %s\n", s.ToString().c_str());
    exit_code = ExitCodeFor(s);
  });
}

}  // namespace fls::cli
