#include "restore_job.h"

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "confined_io.h"
#include "fls/archive.h"
#include "fls/pack.h"

namespace fls::service {
namespace {

// Where object `name` is restored: the directory out_dir/<name's
// directories>, opened (made) below its output root's descriptor, and the
// base name in it.
Status OpenOutputFor(RootDirs& outputs, const std::string& out_dir, const std::string& name,
                     std::unique_ptr<Directory>* dir, std::string* base) {
  const std::string full = JoinPath(out_dir, name);
  *base = BaseName(full);
  if (base->empty() || *base == ".")
    return Status::InvalidArgument("object name '" + name + "' names no file");
  return outputs.OpenDirectory(DirName(full), true, dir);
}

}  // namespace

Status RunRestoreJob(const Store& store, const std::string& backend, const Job& job,
                     JobContext& ctx) {
  const std::string out_dir = std::get<RestoreSpec>(job.spec).output;
  if (out_dir.empty()) return Status::InvalidArgument("restore job without an output directory");
  RootDirs outputs(store.env(), job.output_roots, "output");
  std::unique_ptr<ScratchDir> scratch;
  FLS_RETURN_IF_ERROR(ScratchDir::Create(store.env(), &scratch));
  RestoreOptions o;
  o.backend = backend;
  std::map<std::string, std::vector<PackEntry>> by_pack;
  for (const std::string& name : job.items) {
    if (ctx.Cancelled()) return Status::Cancelled("restore job cancelled");
    // Packed files are restored below, a run of each pack at a time.
    Located found;
    Status s = LocateName(store, name, &found);
    if (s.ok() && found.member) {
      by_pack[found.packed.pack].push_back(found.packed);
      continue;
    }
    std::unique_ptr<Directory> dir;
    if (s.ok()) s = OpenOutputFor(outputs, out_dir, name, &dir, &o.output);
    o.output_dir = dir.get();
    RestoreResult r;
    if (s.ok()) s = RestoreObject(store, name, o, &r);
    nlohmann::json result;
    if (s.ok())
      result = {{"output", JoinPath(out_dir, name)},
                {"bytes", r.bytes},
                {"stripes_reconstructed", r.stripes_reconstructed},
                {"problems", r.problems},
                {"sha256_checked", r.sha256_checked}};
    ctx.ItemDone(name, s, result, s.ok() ? r.bytes : 0);
  }
  // Packed files: one range restore per run of nearby files of a pack
  // (gaps under 4 MiB, runs under 256 MiB), then each file cut out of it,
  // checked against its SHA-256 and written atomically.
  constexpr std::uint64_t kMaxGap = 4u << 20, kMaxRun = 256u << 20;
  for (auto& [pack, entries] : by_pack) {
    std::sort(entries.begin(), entries.end(),
              [](const PackEntry& x, const PackEntry& y) { return x.offset < y.offset; });
    std::size_t i = 0;
    while (i < entries.size()) {
      if (ctx.Cancelled()) return Status::Cancelled("restore job cancelled");
      const std::uint64_t begin = entries[i].offset;
      std::uint64_t end = begin + entries[i].length;
      std::size_t j = i + 1;
      while (j < entries.size() && entries[j].offset <= end + kMaxGap &&
             std::max(end, entries[j].offset + entries[j].length) - begin <= kMaxRun) {
        end = std::max(end, entries[j].offset + entries[j].length);
        ++j;
      }
      RestoreOptions ro = o;
      ro.output_dir = scratch->dir();
      ro.output = "run";
      ro.has_range = true;
      ro.offset = begin;
      ro.length = end - begin;
      RestoreResult r;
      Status s = RestoreObject(store, pack, ro, &r);
      std::unique_ptr<RandomAccessFile> run;
      if (s.ok()) s = scratch->dir()->NewRandomAccessFile("run", &run, nullptr);
      for (std::size_t k = i; k < j; ++k) {
        const PackEntry& pe = entries[k];
        std::unique_ptr<Directory> dir;
        std::string base;
        Status fs = s;
        if (fs.ok()) fs = OpenOutputFor(outputs, out_dir, pe.name, &dir, &base);
        if (fs.ok())
          fs = WriteRangeDurably(*run,
                                 {pe.offset - begin, pe.length, pe.sha256, pe.mode, pe.mtime_ns,
                                  "'" + pe.name + "' from pack " + pack},
                                 dir.get(), base);
        nlohmann::json result;
        if (fs.ok())
          result = {{"output", JoinPath(out_dir, pe.name)},
                    {"bytes", pe.length},
                    {"pack", pack},
                    {"stripes_reconstructed", r.stripes_reconstructed},
                    {"problems", r.problems},
                    {"sha256_checked", true}};
        ctx.ItemDone(pe.name, fs, result, fs.ok() ? pe.length : 0);
      }
      run.reset();
      scratch->dir()->RemoveFile("run");
      i = j;
    }
  }
  return Status::Ok();
}

}  // namespace fls::service
