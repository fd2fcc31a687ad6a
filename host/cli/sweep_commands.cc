// `fls sweep` (check and repair everything stored) and `fls targets` (each
// target's state), both over the health database (fls/health_db.h).
#include <unistd.h>

#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "commands.h"
#include "fls/byte_size.h"
#include "fls/health_db.h"
#include "fls/sweep.h"
#include "store_args.h"

namespace fls::cli {

Status OpenHealthDb(const Store& store, std::string path, bool create,
                    std::unique_ptr<HealthDb>* db) {
  if (path.empty()) {
    std::vector<std::string> paths;
    for (const Target& t : store.targets()) paths.push_back(t.path);
    path = DefaultHealthDbPath(paths);
  }
  FileInfo info;
  if (!create && !store.env()->GetFileInfo(path, &info).ok()) return Status::Ok();
  return HealthDb::Open(path, db);
}

namespace {

nlohmann::json UnreadableJson(const std::vector<UnreadableObject>& list) {
  nlohmann::json a = nlohmann::json::array();
  for (const UnreadableObject& u : list)
    a.push_back({{"name", u.name}, {"hash", u.hash}, {"paths", u.paths}, {"problems", u.problems}});
  return a;
}

nlohmann::json UnreferencedJson(const std::vector<UnreferencedChunk>& list) {
  nlohmann::json a = nlohmann::json::array();
  for (const UnreferencedChunk& u : list)
    a.push_back({{"path", u.path}, {"bytes", u.bytes}, {"orphan", u.orphan}, {"reason", u.reason}});
  return a;
}

nlohmann::json SweepReportJson(const SweepReport& r) {
  return {{"resumed", r.resumed},
          {"sweep_id", r.sweep_id},
          {"objects", r.objects_total},
          {"skipped", r.objects_skipped},
          {"scanned", r.objects_scanned},
          {"bytes_read", r.bytes_read},
          {"healthy", r.healthy},
          {"damaged", r.damaged},
          {"rebuilt", r.rebuilt},
          {"chunks_rebuilt", r.chunks_rebuilt},
          {"unrecoverable", r.unrecoverable},
          {"failed", r.failed},
          {"backend_calls", r.backend_calls},
          {"stripes_reconstructed", r.stripes_reconstructed},
          {"max_stripes_per_call", r.max_stripes_per_call},
          {"max_objects_per_call", r.max_objects_per_call},
          {"cancelled", r.cancelled},
          {"seconds", r.seconds},
          {"cleaned", r.cleaned},
          {"warnings", r.warnings},
          {"unreadable_objects", UnreadableJson(r.unreadable_objects)},
          {"unreferenced", UnreferencedJson(r.unreferenced)}};
}

}  // namespace

// Every object a sweep checks allocates its stripe buffers (megabytes) anew;
// served by fresh mmaps, each page would fault and be zeroed again (measured:
// about a tenth of a verify sweep's CPU). Keeping freed large buffers in the
// heap lets the next object reuse them.
void KeepLargeBuffers() {
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

namespace {

// 5: an object cannot be read back (a stripe past repair, or every manifest
// copy of a name unreadable); 4: something is wrong that leaves the data
// whole (damage a verify-only sweep found, a repair that failed, chunk files
// no manifest names).
int SweepExit(const SweepReport& r, bool verify_only) {
  if (!r.unrecoverable.empty() || !r.unreadable_objects.empty()) return kExitUnrecoverable;
  if (!r.failed.empty() || (verify_only && r.damaged > 0) || !r.unreferenced.empty())
    return kExitDegraded;
  return kExitOk;
}

void PrintSweepReport(const SweepReport& r, bool verify_only) {
  const double gbps = r.seconds > 0 ? r.bytes_read / r.seconds / 1e9 : 0.0;
  std::printf("sweep%s: %llu object(s), %llu scanned, %s read in %.2f s (%.2f GB/s)\n",
              verify_only ? " (verify only)" : "", static_cast<unsigned long long>(r.objects_total),
              static_cast<unsigned long long>(r.objects_scanned),
              FormatByteSize(r.bytes_read).c_str(), r.seconds, gbps);
  if (r.resumed)
    std::printf("  resumed an interrupted sweep: %llu object(s) already done, skipped\n",
                static_cast<unsigned long long>(r.objects_skipped));
  std::printf("  healthy %llu, damaged %llu, rebuilt %llu (%llu chunks), unrecoverable %zu\n",
              static_cast<unsigned long long>(r.healthy),
              static_cast<unsigned long long>(r.damaged),
              static_cast<unsigned long long>(r.rebuilt),
              static_cast<unsigned long long>(r.chunks_rebuilt), r.unrecoverable.size());
  if (r.backend_calls > 0)
    std::printf(
        "  reconstruct: %llu backend call(s), %llu stripes, up to %llu stripes of %llu objects "
        "per call\n",
        static_cast<unsigned long long>(r.backend_calls),
        static_cast<unsigned long long>(r.stripes_reconstructed),
        static_cast<unsigned long long>(r.max_stripes_per_call),
        static_cast<unsigned long long>(r.max_objects_per_call));
  if (!r.cleaned.empty())
    std::printf("  removed %zu leftover file(s) of interrupted runs\n", r.cleaned.size());
  for (const auto& n : r.unrecoverable) std::printf("  unrecoverable: %s\n", n.c_str());
  for (const UnreadableObject& u : r.unreadable_objects) {
    std::printf("  unreadable: %s: every manifest copy is unreadable\n",
                u.name.empty() ? ("name hash " + u.hash).c_str() : ("'" + u.name + "'").c_str());
    for (const std::string& p : u.problems) std::printf("    %s\n", p.c_str());
  }
  for (const UnreferencedChunk& u : r.unreferenced)
    std::printf("  %s: %s (%llu bytes): %s\n", u.orphan ? "orphan" : "leftover", u.path.c_str(),
                static_cast<unsigned long long>(u.bytes), u.reason.c_str());
  for (const auto& f : r.failed) std::printf("  not repaired: %s\n", f.c_str());
  if (r.cancelled) std::printf("  cancelled before the end\n");
}

void AddSweep(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "sweep", "Check every object of the store and rebuild what is lost or damaged");
  auto a = std::make_shared<CommonArgs>();
  auto o = std::make_shared<SweepOptions>();
  auto db_path = std::make_shared<std::string>();
  auto rate = std::make_shared<double>(0.0);
  auto batch = std::make_shared<std::string>("64M");
  auto restart = std::make_shared<bool>(false);
  AddCommon(cmd, a.get(), true);
  cmd->add_flag("--verify-only", o->verify_only, "Check only; change nothing");
  cmd->add_flag("--deep", o->deep, "Also recompute parity and each object's SHA-256");
  cmd->add_option("--rate", *rate, "Read at most this many MB/s (10^6 bytes; default: no limit)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--db", *db_path, "Health database (default: FLS_HEALTH_DB or ~/.local/state)");
  cmd->add_flag("--restart", *restart, "Start over instead of resuming an interrupted sweep");
  cmd->add_option("--readers", o->readers, "Objects checked at once (default 4)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--window", o->window, "Objects per checkpoint (default 64)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--batch", *batch, "Stripe bytes per reconstruct call (default 64M)");
  cmd->add_option("args", a->positional, "[STORE] [NAME...]");
  cmd->callback([a, o, db_path, rate, batch, restart, &exit_code] {
    std::unique_ptr<Store> store;
    Status s = OpenStore(a.get(), 0, &store);
    if (s.ok()) s = ParseByteSize(*batch, &o->batch_bytes).WithContext("--batch");
    std::unique_ptr<HealthDb> db;
    if (s.ok()) s = OpenHealthDb(*store, *db_path, true, &db);
    if (!s.ok()) {
      exit_code = Fail("sweep", s);
      return;
    }
    if (!o->verify_only) CleanStaleTemporaries(*store, "sweep");
    KeepLargeBuffers();
    o->backend = a->backend;
    o->threads = a->threads;
    o->rate_bytes_per_s = static_cast<std::uint64_t>(*rate * 1e6);
    o->db = db.get();
    o->resume = !*restart;
    o->names = a->positional;
    if (!a->quiet && !a->json && isatty(2))
      o->progress = [](const SweepProgress& p) {
        std::fprintf(stderr, "\rsweep: %llu/%llu objects, %s read, %llu rebuilt\033[K",
                     static_cast<unsigned long long>(p.objects_done),
                     static_cast<unsigned long long>(p.objects_total),
                     FormatByteSize(p.bytes_read).c_str(),
                     static_cast<unsigned long long>(p.rebuilt));
      };
    SweepReport r;
    s = RunSweep(*store, *o, &r);
    if (o->progress) std::fprintf(stderr, "\r\033[K");
    for (const auto& w : r.warnings) std::fprintf(stderr, "fls sweep: warning: %s\n", w.c_str());
    if (!s.ok()) {
      exit_code = Fail("sweep", s);
      return;
    }
    if (a->json)
      std::printf("%s\n", SweepReportJson(r).dump().c_str());
    else if (!a->quiet || SweepExit(r, o->verify_only) != kExitOk)
      PrintSweepReport(r, o->verify_only);
    exit_code = SweepExit(r, o->verify_only);
  });
}

// A live look at each target, with what the health database remembers.
std::vector<TargetHealth> ProbeTargets(const Store& store, HealthDb* db) {
  std::vector<TargetHealth> known;
  if (db != nullptr) db->LoadTargets(&known);
  std::vector<TargetHealth> out;
  Env* env = store.env();
  for (const Target& t : store.targets()) {
    TargetHealth h;
    for (const TargetHealth& k : known)
      if (k.path == t.path) h = k;
    ProbeTargetNow(env, t, &h);
    out.push_back(h);
  }
  return out;
}

void AddTargets(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("targets", "Each target's state: reachable, free space, errors");
  auto a = std::make_shared<CommonArgs>();
  auto db_path = std::make_shared<std::string>();
  auto rescan = std::make_shared<bool>(false);
  AddCommon(cmd, a.get(), false);
  cmd->add_option("--db", *db_path, "Health database (default: FLS_HEALTH_DB or ~/.local/state)");
  cmd->add_flag("--rescan", *rescan,
                "Refill the health database from the manifests and chunk headers first");
  cmd->add_option("args", a->positional, "[STORE]");
  cmd->callback([a, db_path, rescan, &exit_code] {
    std::unique_ptr<Store> store;
    Status s = OpenStoreOnly(a.get(), &store);
    std::unique_ptr<HealthDb> db;
    if (s.ok()) s = OpenHealthDb(*store, *db_path, *rescan, &db);
    if (s.ok() && *rescan) {
      std::vector<HealthDb::ObjectRecord> records;
      std::set<std::string> live;
      CatalogWalk walk;
      store->WalkCatalog(
          [&](CatalogEntry& e) {
            HealthDb::ObjectRecord rec;
            QuickCheckObject(*store, e, &rec.report);
            rec.manifest = e.manifest;
            live.insert(rec.report.id);
            records.push_back(std::move(rec));
            return true;
          },
          &walk);
      s = db->RecordObjects(records, 0);
      if (s.ok()) s = db->ForgetObjectsExcept(live);
      if (s.ok()) s = db->RecordTargets(ProbeTargets(*store, nullptr));
    }
    if (!s.ok()) {
      exit_code = Fail("targets", s);
      return;
    }
    const std::vector<TargetHealth> targets = ProbeTargets(*store, db.get());
    exit_code = kExitOk;
    if (!a->json && !a->quiet)
      std::printf("%-12s %-12s %10s %8s %6s %7s  %s\n", "state", "domain", "free", "chunks", "bad",
                  "errors", "path");
    for (const TargetHealth& t : targets) {
      if (!t.reachable) exit_code = kExitDegraded;
      if (a->json) {
        nlohmann::json j = {
            {"path", t.path},     {"target_id", store->TargetId(store->TargetIndex(t.path))},
            {"domain", t.domain}, {"reachable", t.reachable},
            {"error", t.error},   {"free_bytes", t.free_bytes},
            {"chunks", t.chunks}, {"bad_chunks", t.bad_chunks},
            {"errors", t.errors}, {"last_checked", t.last_checked}};
        std::printf("%s\n", j.dump().c_str());
      } else if (!a->quiet || !t.reachable) {
        std::printf("%-12s %-12s %10s %8lld %6lld %7lld  %s\n",
                    t.reachable ? "reachable" : "UNREACHABLE", t.domain.c_str(),
                    t.reachable ? FormatByteSize(t.free_bytes).c_str() : "-",
                    static_cast<long long>(t.chunks), static_cast<long long>(t.bad_chunks),
                    static_cast<long long>(t.errors), t.path.c_str());
        if (!t.reachable) std::printf("    %s\n", t.error.c_str());
      }
    }
    if (db == nullptr && !a->json && !a->quiet)
      std::printf("(no health database yet: run `fls sweep` or `fls targets --rescan`)\n");
  });
}

}  // namespace

void AddSweepCommands(CLI::App& app, int& exit_code) {
  AddSweep(app, exit_code);
  AddTargets(app, exit_code);
}

}  // namespace fls::cli
