// `fls bench codec`: codec data rates per backend, as a table or JSON lines.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/codec_bench.h"
#include "commands.h"
#include "fls/byte_size.h"
#include "fls/codec.h"

namespace fls::cli {
namespace {

struct CodecArgs {
  std::vector<std::string> backends, shapes, blocks, threads;
  std::vector<int> lost{1, 4};
  std::vector<double> batch_mib{64};
  double min_seconds = 0.4;
  int best_of = 1;
  bool json = false, crc = false, memory = false, cpu_time = false;
};

Status ToOptions(const CodecArgs& a, bench::CodecBenchOptions* o) {
  o->backends = a.backends;
  if (!a.shapes.empty()) {
    o->shapes.clear();
    for (const std::string& s : a.shapes) {
      int k = 0, m = 0;
      char plus = 0;
      if (std::sscanf(s.c_str(), "%d%c%d", &k, &plus, &m) != 3 || plus != '+')
        return Status::InvalidArgument("--shape '" + s + "' is not of the form K+M (e.g. 10+4)");
      FLS_RETURN_IF_ERROR(ValidateCodecShape(k, m).WithContext("--shape " + s));
      o->shapes.push_back({k, m});
    }
  }
  if (!a.blocks.empty()) {
    o->block_bytes.clear();
    for (const std::string& b : a.blocks) {
      std::uint64_t v = 0;
      FLS_RETURN_IF_ERROR(ParseByteSize(b, &v).WithContext("--block"));
      if (v == 0 || v > (1u << 30)) return Status::InvalidArgument("--block must be 1 B to 1 GiB");
      o->block_bytes.push_back(v);
    }
  }
  if (!a.threads.empty()) {
    o->threads.clear();
    for (const std::string& t : a.threads) {
      if (t == "all") {
        o->threads.push_back(0);
        continue;
      }
      try {
        const int v = std::stoi(t);
        if (v < 1) throw std::invalid_argument(t);
        o->threads.push_back(v);
      } catch (const std::exception&) {
        return Status::InvalidArgument("--threads '" + t + "' is not a positive number or 'all'");
      }
    }
  }
  o->lost = a.lost;
  o->batch_bytes.clear();
  for (double mib : a.batch_mib) {
    if (!(mib > 0)) return Status::InvalidArgument("--batch-mib must be positive");
    o->batch_bytes.push_back(static_cast<std::size_t>(mib * (1 << 20)));
  }
  if (o->batch_bytes.size() != 1 && o->batch_bytes.size() != o->block_bytes.size())
    return Status::InvalidArgument("--batch-mib has " + std::to_string(o->batch_bytes.size()) +
                                   " values for " + std::to_string(o->block_bytes.size()) +
                                   " --block sizes: give one, or one per block size");
  o->min_seconds = a.min_seconds;
  if (a.best_of < 1 || a.best_of > 1000)
    return Status::InvalidArgument("--best-of must be 1 to 1000 (got " + std::to_string(a.best_of) +
                                   ")");
  o->best_of = a.best_of;
  o->cpu_time = a.cpu_time;
  o->crc = a.crc;
  o->memory = a.memory;
  return Status::Ok();
}

}  // namespace

void AddBenchCommand(CLI::App& app, int& exit_code) {
  auto* bench = app.add_subcommand("bench", "Throughput benchmarks");
  bench->require_subcommand(1);
  auto args = std::make_shared<CodecArgs>();
  auto* codec = bench->add_subcommand(
      "codec",
      "Encode/reconstruct data rate (k x block bytes/s, GB = 1e9 B) per backend, "
      "against raw ISA-L ec_encode_data (isal-raw) on the same buffers");
  codec->add_option("--backend", args->backends, "Backends to run (default: every usable one)")
      ->delimiter(',');
  codec->add_option("--shape", args->shapes, "Shapes K+M (default 10+4,6+3,17+3)")->delimiter(',');
  codec->add_option("--block", args->blocks, "Block sizes (default 64K,1M,16M)")->delimiter(',');
  codec->add_option("--lost", args->lost, "Data shards lost in reconstruct rows (default 1,4)")
      ->delimiter(',');
  codec->add_option("--threads", args->threads, "Thread counts, or 'all' (default 1,all)")
      ->delimiter(',');
  codec
      ->add_option("--batch-mib", args->batch_mib,
                   "Data MiB per batch, the working set each repetition sweeps: one value, or "
                   "one per --block (default 64)")
      ->delimiter(',');
  codec->add_option("--min-seconds", args->min_seconds, "Time per row (default 0.4)");
  codec->add_option("--best-of", args->best_of,
                    "Split each row's time into N slices and report the fastest (default 1); "
                    "for hosts shared with other work");
  codec->add_flag("--cpu-time", args->cpu_time,
                  "Time by the process's CPU time, not the wall clock (1-thread rows only): "
                  "the rate of one core on a host time-shared with other work");
  codec->add_flag("--crc", args->crc,
                  "Also encode_crc rows: encode with the CRC32C of every block");
  codec->add_flag("--memory", args->memory,
                  "Also one-thread memory read/write rates over the same working set "
                  "(backend 'memory'; GB/s of bytes moved)");
  codec->add_flag("--json", args->json, "One JSON object per line");
  codec->callback([args, &exit_code] {
    bench::CodecBenchOptions options;
    Status s = ToOptions(*args, &options);
    if (s.ok()) {
      if (!args->json)
        std::printf("%-10s %-12s %6s %5s %10s %7s %8s %10s\n", "backend", "op", "k+m", "lost",
                    "block", "stripes", "threads", "data GB/s");
      s = bench::RunCodecBench(options, [&](const bench::CodecBenchRow& r) {
        if (args->json) {
          nlohmann::json j = {{"backend", r.backend},
                              {"op", r.op},
                              {"k", r.k},
                              {"m", r.m},
                              {"lost", r.lost},
                              {"block_bytes", r.block_bytes},
                              {"stripes", r.stripes},
                              {"threads", r.threads},
                              {"seconds", r.seconds},
                              {"data_gbps", r.data_gbps}};
          std::printf("%s\n", j.dump().c_str());
        } else {
          const std::string shape = std::to_string(r.k) + "+" + std::to_string(r.m);
          std::printf("%-10s %-12s %6s %5d %10s %7zu %8d %10.2f\n", r.backend.c_str(), r.op.c_str(),
                      shape.c_str(), r.lost, FormatByteSize(r.block_bytes).c_str(), r.stripes,
                      r.threads, r.data_gbps);
        }
        std::fflush(stdout);
      });
    }
    if (!s.ok()) std::fprintf(stderr, "fls bench codec: %s\n", s.ToString().c_str());
    exit_code = ExitCodeFor(s);
  });
}

}  // namespace fls::cli
