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
#include "fls/store.h"
#include "progress_bar.h"
#include "store_args.h"

namespace fls::cli {
namespace {

void AddArchive(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("archive", "Store files as k + m erasure-coded chunks");
  auto a = std::make_shared<CommonArgs>();
  auto o = std::make_shared<ArchiveOptions>();
  auto stripe = std::make_shared<std::string>("10M");
  auto matrix = std::make_shared<std::string>("cauchy");
  AddCommon(cmd, a.get(), true);
  cmd->add_option("-k", o->k, "Data chunks (default 10)");
  cmd->add_option("-m", o->m, "Parity chunks (default 4)");
  cmd->add_option("--stripe", *stripe, "Stripe width: data bytes per stripe (default 10M)");
  cmd->add_option("--matrix", *matrix, "cauchy (default) or vandermonde");
  cmd->add_option("--name", o->name, "Object name (default: the file's base name; one file only)");
  cmd->add_flag("--allow-shared-targets", o->allow_shared_targets,
                "Put several chunks on one target when there are fewer than k + m targets");
  cmd->add_flag("--checksum", o->compare_checksum,
                "A name archived already is unchanged when its SHA-256 matches (default: when "
                "size, mtime and mode match)");
  cmd->add_option("args", a->positional, "[STORE] FILE...")->required();
  cmd->callback([a, o, stripe, matrix, &exit_code] {
    std::unique_ptr<Store> store;
    Status s = OpenStore(a.get(), 1, &store);
    if (s.ok()) s = ParseByteSize(*stripe, &o->stripe_width).WithContext("--stripe");
    if (s.ok()) s = ParseMatrixKind(*matrix, &o->matrix).WithContext("--matrix");
    if (s.ok() && a->positional.empty()) s = Status::InvalidArgument("no FILE to archive");
    if (s.ok() && !o->name.empty() && a->positional.size() > 1)
      s = Status::InvalidArgument("--name applies to one FILE only");
    if (!s.ok()) {
      exit_code = Fail("archive", s);
      return;
    }
    CleanStaleTemporaries(*store, "archive");
    o->backend = a->backend;
    o->threads = a->threads;
    exit_code = kExitOk;
    for (const std::string& file : a->positional) {
      ProgressBar bar(*a, "archive " + BaseName(file));
      ArchiveOptions opt = *o;
      opt.progress = bar.fn();
      ArchiveResult r;
      const auto t0 = std::chrono::steady_clock::now();
      s = ArchiveFile(*store, file, opt, &r);
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      bar.Done();
      if (!s.ok()) {
        exit_code = Fail("archive", s.WithContext(file));
        continue;
      }
      const Manifest& mf = r.manifest;
      if (r.unchanged) {
        if (a->json)
          std::printf("%s\n", nlohmann::json{{"name", mf.name},
                                             {"file", file},
                                             {"unchanged", true},
                                             {"size", mf.size},
                                             {"sha256", mf.sha256},
                                             {"seconds", secs}}
                                  .dump()
                                  .c_str());
        else if (!a->quiet)
          std::printf("unchanged %s: '%s' is archived already (%s match)\n", file.c_str(),
                      mf.name.c_str(), opt.compare_checksum ? "SHA-256" : "size, mtime and mode");
        continue;
      }
      std::set<std::string> targets;
      for (const auto& c : mf.chunks) targets.insert(c.target);
      const bool shared = static_cast<int>(targets.size()) < mf.k + mf.m;
      if (a->json) {
        nlohmann::json j = {{"name", mf.name},
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
      } else if (!a->quiet) {
        std::printf(
            "archived %s as '%s': %llu bytes, %d+%d, %llu stripes of %s, %zu targets, "
            "%zu manifest copies (%.2f s, %s)\n",
            file.c_str(), mf.name.c_str(), static_cast<unsigned long long>(mf.size), mf.k, mf.m,
            static_cast<unsigned long long>(mf.stripes), FormatByteSize(mf.stripe_width).c_str(),
            targets.size(), mf.manifest_targets.size(), secs, r.backend.c_str());
        std::printf("  survives the loss of any %d target(s) and any %d failure domain(s)\n",
                    r.target_failures_tolerated, r.domain_failures_tolerated);
      }
      if (shared && !a->json)
        std::fprintf(stderr,
                     "fls archive: warning: %zu targets hold %d chunks of '%s': fault tolerance "
                     "is %d target failure(s), not %d\n",
                     targets.size(), mf.k + mf.m, mf.name.c_str(), r.target_failures_tolerated,
                     mf.m);
    }
  });
}

void AddRestore(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("restore", "Restore an object, bit-exact, SHA-256 checked");
  auto a = std::make_shared<CommonArgs>();
  auto o = std::make_shared<RestoreOptions>();
  auto range = std::make_shared<std::string>();
  AddCommon(cmd, a.get(), true);
  cmd->add_option("-o,--output", o->output, "Output file (default: ./NAME)");
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
