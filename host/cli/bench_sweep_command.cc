// `fls bench sweep`: a verify-only sweep and a repair sweep over the same
// damaged store, against reading the same chunk files with a plain
// sequential read loop (what `cat FILES > /dev/null` does), in one run.
//
// The store: --size bytes of random data as objects of --object-size over 16
// targets in 4 failure domains (k=10 m=4); then one target is removed and
// one byte is flipped in about 1% of the other blocks (at most m bad blocks
// in any stripe). Nothing is dropped from the page cache: cat runs first and
// all three read the chunk files from the same (warm) cache state.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "commands.h"
#include "fls/archive.h"
#include "fls/byte_size.h"
#include "fls/chunk_format.h"
#include "fls/env.h"
#include "fls/store.h"
#include "fls/sweep.h"

namespace fls::cli {
namespace {

namespace fs = std::filesystem;

struct SweepBenchArgs {
  std::string size = "1G";
  std::string object_size = "32M";
  std::string dir;
  std::string backend = "auto";
  int readers = 4;
  bool json = false, keep = false;
};

struct BenchRow {
  std::string op;
  std::uint64_t bytes = 0;
  double seconds = 0;
  nlohmann::json extra = nlohmann::json::object();
};

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Status BuildStore(const SweepBenchArgs& a, const std::string& root, std::uint64_t total,
                  std::uint64_t object_size, std::unique_ptr<Store>* store) {
  Env* env = Env::Default();
  std::vector<Target> targets;
  for (int i = 0; i < 16; ++i) {
    char name[8];
    std::snprintf(name, sizeof name, "t%02d", i);
    const std::string p = JoinPath(root, name);
    FLS_RETURN_IF_ERROR(env->CreateDirs(p));
    targets.push_back({p, "d" + std::to_string(i % 4)});
  }
  FLS_RETURN_IF_ERROR(Store::FromTargets(env, targets, store));
  std::mt19937_64 rng(42);
  std::vector<std::uint64_t> buf(object_size / 8 + 1);
  const std::string src = JoinPath(root, "source.bin");
  for (std::uint64_t done = 0, i = 0; done < total; done += object_size, ++i) {
    const std::uint64_t n = std::min(object_size, total - done);
    for (auto& w : buf) w = rng();
    std::unique_ptr<WritableFile> f;
    FLS_RETURN_IF_ERROR(env->NewWritableFile(src, &f));
    FLS_RETURN_IF_ERROR(f->Append(buf.data(), n));
    FLS_RETURN_IF_ERROR(f->Close());
    ArchiveOptions o;
    o.backend = a.backend;
    o.name = "obj-" + std::to_string(i);
    ArchiveResult r;
    FLS_RETURN_IF_ERROR(ArchiveFile(**store, src, o, &r));
  }
  return env->RemoveFile(src);
}

// Removes target t00 and flips a byte in ~1% of the other blocks, keeping
// every stripe within m bad blocks (t00's chunk counts as one).
Status Damage(const Store& store, std::uint64_t* flipped) {
  std::error_code ec;
  fs::remove_all(store.targets()[0].path, ec);
  if (ec) return Status::IOError("removing " + store.targets()[0].path + ": " + ec.message());
  std::mt19937_64 rng(7);
  Catalog c = store.ReadCatalog();
  for (const CatalogEntry& e : c.objects) {
    const Manifest& mf = e.manifest;
    const StripeGeometry g = mf.geometry();
    std::vector<int> bad(g.stripes(), 0);
    for (const ManifestChunk& ch : mf.chunks)
      if (ch.target == store.targets()[0].path) std::fill(bad.begin(), bad.end(), 1);
    for (int i = 0; i < mf.k + mf.m; ++i) {
      if (mf.chunks[i].target == store.targets()[0].path) continue;
      for (std::uint64_t s = 0; s < g.stripes(); ++s) {
        if (rng() % 100 != 0 || bad[s] >= mf.m) continue;
        ++bad[s];
        const std::uint64_t off = g.record_offset(s) + rng() % g.block_size(s);
        std::fstream f(mf.chunks[i].path(), std::ios::binary | std::ios::in | std::ios::out);
        f.seekg(static_cast<std::streamoff>(off));
        char ch = 0;
        f.read(&ch, 1);
        ch = static_cast<char>(ch ^ 0x5a);
        f.seekp(static_cast<std::streamoff>(off));
        f.write(&ch, 1);
        if (!f) return Status::IOError("damaging " + mf.chunks[i].path());
        ++*flipped;
      }
    }
  }
  return Status::Ok();
}

// Every chunk file, read start to end through a 1 MiB buffer, one at a time.
Status CatChunks(const Store& store, BenchRow* row) {
  Env* env = store.env();
  std::vector<char> buf(1 << 20);
  const auto t0 = std::chrono::steady_clock::now();
  for (const Target& t : store.targets()) {
    std::vector<std::string> names;
    if (!env->GetChildren(t.path, &names).ok()) continue;
    for (const std::string& n : names) {
      if (n.size() < 6 || n.compare(n.size() - 6, 6, ".chunk") != 0) continue;
      std::unique_ptr<RandomAccessFile> f;
      FLS_RETURN_IF_ERROR(env->NewRandomAccessFile(JoinPath(t.path, n), &f));
      std::uint64_t off = 0;
      std::size_t got = 0;
      do {
        FLS_RETURN_IF_ERROR(f->Read(off, buf.size(), buf.data(), &got));
        off += got;
      } while (got == buf.size());
      row->bytes += off;
    }
  }
  row->seconds = Since(t0);
  return Status::Ok();
}

Status RunSweepBench(const SweepBenchArgs& a, std::vector<BenchRow>* rows) {
  std::uint64_t total = 0, object_size = 0;
  FLS_RETURN_IF_ERROR(ParseByteSize(a.size, &total).WithContext("--size"));
  FLS_RETURN_IF_ERROR(ParseByteSize(a.object_size, &object_size).WithContext("--object-size"));
  if (total == 0 || object_size == 0)
    return Status::InvalidArgument("--size and --object-size must be more than 0");
  const std::string root = a.dir.empty() ? "fls-bench-sweep" : a.dir;
  std::error_code ec;
  if (fs::exists(root, ec))
    return Status::InvalidArgument(root + " exists; give --dir a new directory");
  fs::create_directories(root, ec);
  if (ec) return Status::IOError("creating " + root + ": " + ec.message());
  struct Cleanup {
    std::string dir;
    bool keep;
    ~Cleanup() {
      std::error_code e;
      if (!keep) fs::remove_all(dir, e);
    }
  } cleanup{root, a.keep};
  std::unique_ptr<Store> store;
  FLS_RETURN_IF_ERROR(BuildStore(a, root, total, object_size, &store));
  std::uint64_t flipped = 0;
  FLS_RETURN_IF_ERROR(Damage(*store, &flipped));

  BenchRow cat{"cat"};
  FLS_RETURN_IF_ERROR(CatChunks(*store, &cat));
  cat.extra["reader"] = "one sequential read loop, 1 MiB reads";
  for (bool verify_only : {true, false}) {
    SweepOptions o;
    o.verify_only = verify_only;
    o.backend = a.backend;
    o.readers = a.readers;
    SweepReport r;
    FLS_RETURN_IF_ERROR(RunSweep(*store, o, &r));
    BenchRow row{verify_only ? "verify" : "repair", r.bytes_read, r.seconds};
    row.extra = {{"objects", r.objects_scanned},
                 {"damaged", r.damaged},
                 {"rebuilt", r.rebuilt},
                 {"chunks_rebuilt", r.chunks_rebuilt},
                 {"unrecoverable", r.unrecoverable.size()},
                 {"backend_calls", r.backend_calls},
                 {"stripes_reconstructed", r.stripes_reconstructed},
                 {"readers", a.readers}};
    if (!verify_only && (r.rebuilt != r.damaged || !r.unrecoverable.empty()))
      return Status::Internal("the repair sweep left objects unrepaired");
    rows->push_back(row);
  }
  rows->insert(rows->begin(), cat);
  for (BenchRow& r : *rows) {
    r.extra["cache"] = "warm: nothing dropped, cat ran first";
    r.extra["blocks_damaged"] = flipped;
    r.extra["target_removed"] = store->targets()[0].path;
  }
  return Status::Ok();
}

}  // namespace

void AddBenchSweepCommand(CLI::App& app, int& exit_code) {
  CLI::App* bench = app.get_subcommand("bench");
  auto a = std::make_shared<SweepBenchArgs>();
  auto* cmd = bench->add_subcommand(
      "sweep", "Verify-only and repair sweeps of a damaged store vs reading its chunk files");
  cmd->add_option("--size", a->size, "Data stored (default 1G)");
  cmd->add_option("--object-size", a->object_size, "Size of each object (default 32M)");
  cmd->add_option("--dir", a->dir,
                  "Directory to work in, must not exist (default ./fls-bench-sweep)");
  cmd->add_option("--backend", a->backend, "Backend (default auto)");
  cmd->add_option("--readers", a->readers, "Objects checked at once (default 4)")
      ->check(CLI::Range(1, 256));
  cmd->add_flag("--keep", a->keep, "Keep the work directory");
  cmd->add_flag("--json", a->json, "One JSON object per line");
  cmd->callback([a, &exit_code] {
    KeepLargeBuffers();
    std::vector<BenchRow> rows;
    Status s = RunSweepBench(*a, &rows);
    if (!a->json && !rows.empty())
      std::printf("%-7s %14s %9s %8s\n", "op", "bytes", "seconds", "GB/s");
    double cat_gbps = 0;
    for (const BenchRow& r : rows) {
      const double gbps = r.seconds > 0 ? r.bytes / r.seconds / 1e9 : 0;
      if (r.op == "cat") cat_gbps = gbps;
      if (a->json) {
        nlohmann::json j = {
            {"op", r.op}, {"bytes", r.bytes}, {"seconds", r.seconds}, {"gbps", gbps}};
        if (r.op != "cat" && cat_gbps > 0) j["ratio_to_cat"] = gbps / cat_gbps;
        j.update(r.extra);
        std::printf("%s\n", j.dump().c_str());
      } else {
        std::printf("%-7s %14llu %9.3f %8.2f\n", r.op.c_str(),
                    static_cast<unsigned long long>(r.bytes), r.seconds, gbps);
      }
    }
    if (!s.ok()) std::fprintf(stderr, "fls bench sweep: %s\n", s.ToString().c_str());
    exit_code = ExitCodeFor(s);
  });
}

}  // namespace fls::cli
