// `fls archive | restore`: the archive commands that move file bytes
// (verify, repair, ls and info are in inspect_commands.cc).
//
// The store comes from, in order: --store FILE, repeated --target DIR[=DOMAIN],
// a leading positional STORE (a YAML file, or a directory holding
// fls-store.yaml), or the FLS_STORE environment variable (same forms).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "commands.h"
#include "fls/archive.h"
#include "fls/byte_size.h"
#include "fls/env.h"
#include "fls/health_db.h"
#include "fls/pack.h"
#include "fls/store.h"
#include "fls/time_text.h"
#include "progress_bar.h"
#include "store_args.h"

namespace fls::cli {
namespace {

// A file to archive, with the object name it gets.
struct SourceFile {
  std::string path, name;
  std::uint64_t size = 0;
};

// The files `args` name: files as given (named by --name or their base
// name), directories walked (regular files only, named by their path from
// the directory's own name down: `fls archive /data/photos` stores
// photos/2020/a.jpg, like tar). Symbolic links, FIFOs and devices inside a
// walked directory are skipped with a warning; as arguments they are errors
// of their own.
Status ListSources(const std::vector<std::string>& args, const std::string& name,
                   std::vector<SourceFile>* files, std::vector<Status>* errors,
                   std::vector<std::string>* skipped) {
  namespace fs = std::filesystem;
  for (const std::string& arg : args) {
    std::error_code ec;
    const fs::file_status st = fs::status(arg, ec);
    if (ec) {
      errors->push_back(Status::NotFound(arg + ": " + ec.message()));
      continue;
    }
    if (fs::is_regular_file(st)) {
      files->push_back({arg, name.empty() ? BaseName(arg) : name, fs::file_size(arg, ec)});
      continue;
    }
    if (!fs::is_directory(st)) {
      errors->push_back(Status::InvalidArgument(arg + " is not a regular file or a directory"));
      continue;
    }
    fs::path root = fs::path(arg).lexically_normal();
    if (!root.has_filename()) root = root.parent_path();  // "dir/" -> "dir"
    const fs::path base = fs::absolute(root, ec).filename();
    std::vector<SourceFile> found;
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::file_status ls = it->symlink_status(ec);
      if (ec) break;
      if (fs::is_directory(ls)) continue;
      if (!fs::is_regular_file(ls)) {
        skipped->push_back(it->path().string());
        continue;
      }
      const std::string rel = (base / it->path().lexically_relative(root)).generic_string();
      found.push_back({it->path().string(), rel, it->file_size(ec)});
      if (ec) break;
    }
    if (ec) {
      errors->push_back(Status::IOError(arg + ": " + ec.message()));
      continue;
    }
    std::sort(found.begin(), found.end(),
              [](const SourceFile& x, const SourceFile& y) { return x.name < y.name; });
    files->insert(files->end(), found.begin(), found.end());
  }
  return Status::Ok();
}

// Prints one archived (or unchanged) single object.
void PrintArchived(const CommonArgs& a, const ArchiveOptions& opt, const std::string& file,
                   const ArchiveResult& r, double secs) {
  const Manifest& mf = r.manifest;
  if (r.unchanged) {
    if (a.json) {
      nlohmann::json j = {{"name", mf.name}, {"file", file},        {"unchanged", true},
                          {"size", mf.size}, {"sha256", mf.sha256}, {"seconds", secs}};
      if (!r.packed_in.empty()) j["pack"] = r.packed_in;
      std::printf("%s\n", j.dump().c_str());
    } else if (!a.quiet) {
      std::printf("unchanged %s: '%s' is archived already (%s match)\n", file.c_str(),
                  mf.name.c_str(), opt.compare_checksum ? "SHA-256" : "size, mtime and mode");
    }
    return;
  }
  std::set<std::string> targets;
  for (const auto& c : mf.chunks) targets.insert(c.target);
  const bool shared = static_cast<int>(targets.size()) < mf.k + mf.m;
  if (a.json) {
    nlohmann::json j = {{"name", mf.name},
                        {"file", file},
                        {"id", ObjectIdToHex(mf.id)},
                        {"size", mf.size},
                        {"k", mf.k},
                        {"m", mf.m},
                        {"stripe_width", mf.stripe_width},
                        {"stripes", mf.stripes},
                        {"unchanged", false},
                        {"sha256", mf.sha256},
                        {"backend", r.backend},
                        {"seconds", secs},
                        {"targets_used", targets.size()},
                        {"target_failures_tolerated", r.target_failures_tolerated},
                        {"domain_failures_tolerated", r.domain_failures_tolerated},
                        {"manifest_copies", mf.manifest_targets.size()}};
    std::printf("%s\n", j.dump().c_str());
  } else if (!a.quiet) {
    std::printf(
        "archived %s as '%s': %llu bytes, %d+%d, %llu stripes of %s, %zu targets, "
        "%zu manifest copies (%.2f s, %s)\n",
        file.c_str(), mf.name.c_str(), static_cast<unsigned long long>(mf.size), mf.k, mf.m,
        static_cast<unsigned long long>(mf.stripes), FormatByteSize(mf.stripe_width).c_str(),
        targets.size(), mf.manifest_targets.size(), secs, r.backend.c_str());
    std::printf("  survives the loss of any %d target(s) and any %d failure domain(s)\n",
                r.target_failures_tolerated, r.domain_failures_tolerated);
  }
  if (shared && !a.json)
    std::fprintf(stderr,
                 "fls archive: warning: %zu targets hold %d chunks of '%s': fault tolerance "
                 "is %d target failure(s), not %d\n",
                 targets.size(), mf.k + mf.m, mf.name.c_str(), r.target_failures_tolerated, mf.m);
}

// The small files, packed (fls/pack.h); returns the exit code.
int ArchivePacked(const Store& store, const CommonArgs& a, const ArchiveOptions& opt,
                  const std::vector<SourceFile>& small) {
  Env* env = store.env();
  const OpenSourceFn open = [env](const std::string& path, std::unique_ptr<RandomAccessFile>* f,
                                  FileInfo* info) {
    FLS_RETURN_IF_ERROR(env->GetFileInfo(path, info));
    if (info->type != FileType::kRegular)
      return Status::InvalidArgument(path + " is not a regular file");
    return env->NewRandomAccessFile(path, f);
  };
  std::vector<PackInput> inputs;
  for (const SourceFile& f : small) inputs.push_back({f.name, f.path, f.size});
  int exit_code = kExitOk;
  std::set<std::string> packs;
  std::uint64_t packed_bytes = 0, packed_files = 0;
  const auto t0 = std::chrono::steady_clock::now();
  Status s = ArchiveSmallFiles(
      store, open, inputs, opt, PackOptions(), [&](std::size_t i, const PackedItem& item) {
        const SourceFile& f = small[i];
        if (!item.status.ok()) {
          exit_code = Fail("archive", item.status.WithContext(f.path));
          return;
        }
        if (!item.unchanged) {
          packs.insert(item.entry.pack);
          packed_bytes += item.entry.length;
          ++packed_files;
        }
        if (a.json) {
          nlohmann::json j = {{"name", f.name},
                              {"file", f.path},
                              {"size", item.entry.length},
                              {"sha256", item.entry.sha256},
                              {"unchanged", item.unchanged}};
          if (item.member) {
            j["pack"] = item.entry.pack;
            j["offset"] = item.entry.offset;
          }
          std::printf("%s\n", j.dump().c_str());
        } else if (!a.quiet && item.unchanged) {
          std::printf("unchanged %s: '%s' is archived already\n", f.path.c_str(), f.name.c_str());
        } else if (!a.quiet) {
          std::printf("archived %s as '%s': %llu bytes, packed\n", f.path.c_str(), f.name.c_str(),
                      static_cast<unsigned long long>(item.entry.length));
        }
      });
  if (!s.ok()) return Fail("archive", s);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!a.json && !a.quiet && packed_files > 0)
    std::printf("packed %llu small file(s), %llu bytes, into %zu pack(s) (%.2f s)\n",
                static_cast<unsigned long long>(packed_files),
                static_cast<unsigned long long>(packed_bytes), packs.size(), secs);
  return exit_code;
}

void AddArchive(CLI::App& app, int& exit_code) {
  auto* cmd =
      app.add_subcommand("archive", "Store files and directories as k + m erasure-coded chunks");
  auto a = std::make_shared<CommonArgs>();
  auto o = std::make_shared<ArchiveOptions>();
  auto stripe = std::make_shared<std::string>("10M");
  auto matrix = std::make_shared<std::string>("cauchy");
  auto small_bytes = std::make_shared<std::string>("1M");
  auto no_pack = std::make_shared<bool>(false);
  auto retain = std::make_shared<std::string>();
  AddCommon(cmd, a.get(), true);
  cmd->add_option("-k", o->k, "Data chunks (default 10)");
  cmd->add_option("-m", o->m, "Parity chunks (default 4)");
  cmd->add_option("--stripe", *stripe, "Stripe width: data bytes per stripe (default 10M)");
  cmd->add_option("--matrix", *matrix, "cauchy (default) or vandermonde");
  cmd->add_option("--name", o->name, "Object name (default: the file's base name; one file only)");
  cmd->add_option("--small-file", *small_bytes,
                  "Files below this size are packed together when several are archived "
                  "(default 1M)");
  cmd->add_flag("--no-pack", *no_pack, "Archive every file as an object of its own");
  cmd->add_flag("--allow-shared-targets", o->allow_shared_targets,
                "Put several chunks on one target when there are fewer than k + m targets");
  cmd->add_flag("--checksum", o->compare_checksum,
                "A name archived already is unchanged when its SHA-256 matches (default: when "
                "size, mtime and mode match)");
  cmd->add_option("--retain-until", *retain,
                  "`fls rm` refuses to delete these files before this date (YYYY-MM-DD, or "
                  "YYYY-MM-DDTHH:MM[:SS]Z or +HH:MM)");
  cmd->add_option("args", a->positional, "[STORE] FILE|DIR...")->required();
  cmd->callback([a, o, stripe, matrix, small_bytes, no_pack, retain, &exit_code] {
    std::unique_ptr<Store> store;
    std::uint64_t small_limit = 0;
    Status s = OpenStore(a.get(), 1, &store);
    if (s.ok()) s = ParseByteSize(*stripe, &o->stripe_width).WithContext("--stripe");
    if (s.ok()) s = ParseMatrixKind(*matrix, &o->matrix).WithContext("--matrix");
    if (s.ok()) s = ParseByteSize(*small_bytes, &small_limit).WithContext("--small-file");
    if (s.ok() && !retain->empty())
      s = ParseTimeText(*retain, &o->retain_until_ns).WithContext("--retain-until");
    if (s.ok() && a->positional.empty()) s = Status::InvalidArgument("no FILE to archive");
    std::vector<SourceFile> files;
    std::vector<Status> errors;
    std::vector<std::string> skipped;
    if (s.ok()) s = ListSources(a->positional, o->name, &files, &errors, &skipped);
    if (s.ok() && !o->name.empty() && (a->positional.size() > 1 || files.size() != 1))
      s = Status::InvalidArgument("--name applies to one FILE only");
    if (!s.ok()) {
      exit_code = Fail("archive", s);
      return;
    }
    exit_code = kExitOk;
    for (const Status& e : errors) exit_code = Fail("archive", e);
    for (const std::string& p : skipped)
      std::fprintf(stderr, "fls archive: skipped %s: not a regular file\n", p.c_str());
    CleanStaleTemporariesThrottled(*store, "archive");
    o->backend = a->backend;
    o->threads = a->threads;
    std::vector<SourceFile> small, large;
    for (const SourceFile& f : files)
      (!*no_pack && f.size < small_limit ? small : large).push_back(f);
    if (small.size() == 1) large.insert(large.begin(), small[0]), small.clear();
    if (!small.empty()) {
      const int rc = ArchivePacked(*store, *a, *o, small);
      if (rc != kExitOk) exit_code = rc;
    }
    for (const SourceFile& f : large) {
      ProgressBar bar(*a, "archive " + BaseName(f.path));
      ArchiveOptions opt = *o;
      opt.name = f.name;
      opt.progress = bar.fn();
      ArchiveResult r;
      const auto t0 = std::chrono::steady_clock::now();
      s = ArchiveFile(*store, f.path, opt, &r);
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      bar.Done();
      if (!s.ok()) {
        exit_code = Fail("archive", s.WithContext(f.path));
        continue;
      }
      PrintArchived(*a, opt, f.path, r, secs);
    }
  });
}

// `fls restore NAME -o -`: the bytes to stdout as they are read (each
// stripe checked by its block CRCs first); the whole file's SHA-256 is
// compared at the end, so a mismatch is an error after the bytes went out
// (exit 5, like any corruption). Messages go to stderr.
int RestoreToStdout(const Store& store, const CommonArgs& a, const std::string& name,
                    RestoreOptions opt) {
  opt.backend = a.backend;
  opt.threads = a.threads;
  RestoreResult r;
  Status s = ReadObject(
      store, name, opt,
      [](const std::uint8_t* p, std::size_t n) {
        if (std::fwrite(p, 1, n, stdout) != n)
          return Status::IOError("writing to stdout: " + std::string(std::strerror(errno)));
        return Status::Ok();
      },
      &r);
  if (s.ok() && std::fflush(stdout) != 0)
    s = Status::IOError("writing to stdout: " + std::string(std::strerror(errno)));
  if (!s.ok()) {
    std::fprintf(stderr, "fls restore: %s\n", s.ToString().c_str());
    return s.code() == Status::Code::kCorruption ? kExitUnrecoverable : ExitCodeFor(s);
  }
  for (const auto& p : r.problems)
    std::fprintf(stderr, "fls restore: warning: %s (run `fls repair`)\n", p.c_str());
  return kExitOk;
}

void AddRestore(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("restore", "Restore an object, bit-exact, SHA-256 checked");
  auto a = std::make_shared<CommonArgs>();
  auto o = std::make_shared<RestoreOptions>();
  auto range = std::make_shared<std::string>();
  AddCommon(cmd, a.get(), true);
  cmd->add_option("-o,--output", o->output, "Output file (default: ./NAME; - for stdout)");
  cmd->add_option("--range", *range, "Only OFFSET:LENGTH (sizes like 10M), block CRC checked");
  auto no_follow = std::make_shared<bool>(false);
  cmd->add_flag("--no-follow", *no_follow,
                "Reach the output's directory from / without following any symbolic link");
  cmd->add_option("args", a->positional, "[STORE] NAME")->required();
  cmd->callback([a, o, range, no_follow, &exit_code] {
    std::unique_ptr<Store> store;
    Status s = OpenStore(a.get(), 1, &store);
    if (s.ok() && a->positional.size() != 1)
      s = Status::InvalidArgument("restore takes one object NAME");
    RestoreOptions opt = *o;
    if (s.ok() && !range->empty()) {
      const auto colon = range->find(':');
      if (colon == std::string::npos) {
        s = Status::InvalidArgument("--range '" + *range + "' is not OFFSET:LENGTH");
      } else {
        s = ParseByteSize(range->substr(0, colon), &opt.offset).WithContext("--range offset");
        if (s.ok())
          s = ParseByteSize(range->substr(colon + 1), &opt.length).WithContext("--range length");
        opt.has_range = true;
      }
    }
    if (!s.ok()) {
      exit_code = Fail("restore", s);
      return;
    }
    const std::string name = a->positional[0];
    if (opt.output == "-") {
      exit_code = RestoreToStdout(*store, *a, name, opt);
      return;
    }
    if (opt.output.empty()) opt.output = BaseName(name);
    const std::string shown_output = opt.output;
    std::unique_ptr<Directory> out_dir;
    if (*no_follow) {
      std::string base;
      s = OpenParentNoFollow(store->env(), opt.output, &out_dir, &base);
      if (!s.ok()) {
        exit_code = Fail("restore", s.WithContext("--output"));
        return;
      }
      opt.output_dir = out_dir.get();
      opt.output = base;
    }
    opt.backend = a->backend;
    opt.threads = a->threads;
    ProgressBar bar(*a, "restore " + name);
    opt.progress = bar.fn();
    RestoreResult r;
    const auto t0 = std::chrono::steady_clock::now();
    s = RestoreObject(*store, name, opt, &r);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    bar.Done();
    if (!s.ok()) {
      exit_code = s.code() == Status::Code::kCorruption ? kExitUnrecoverable : ExitCodeFor(s);
      std::fprintf(stderr, "fls restore: %s\n", s.ToString().c_str());
      return;
    }
    if (a->json) {
      nlohmann::json j = {{"name", name},
                          {"output", shown_output},
                          {"bytes", r.bytes},
                          {"seconds", secs},
                          {"sha256_checked", r.sha256_checked},
                          {"stripes_reconstructed", r.stripes_reconstructed},
                          {"problems", r.problems}};
      std::printf("%s\n", j.dump().c_str());
    } else if (!a->quiet) {
      std::printf("restored '%s' -> %s: %llu bytes (%.2f s)%s\n", name.c_str(),
                  shown_output.c_str(), static_cast<unsigned long long>(r.bytes), secs,
                  r.sha256_checked ? ", SHA-256 verified" : ", block CRCs verified");
      if (r.stripes_reconstructed)
        std::printf("  %llu stripe(s) rebuilt from parity\n",
                    static_cast<unsigned long long>(r.stripes_reconstructed));
    }
    if (!a->json)
      for (const auto& p : r.problems)
        std::fprintf(stderr, "fls restore: warning: %s (run `fls repair`)\n", p.c_str());
    exit_code = kExitOk;
  });
}

}  // namespace

void AddArchiveCommands(CLI::App& app, int& exit_code) {
  AddArchive(app, exit_code);
  AddRestore(app, exit_code);
  AddInspectCommands(app, exit_code);
}

}  // namespace fls::cli
