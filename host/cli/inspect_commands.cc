// `fls verify | repair | ls | info`: the commands that look objects up or
// walk the catalogue (fls/store.h). A named object is looked up directly
// (its manifest file on each target); without names the catalogue is walked,
// streaming, and what the walk finds wrong besides the objects is reported:
// names whose every manifest copy is unreadable (exit 5) and, for verify,
// chunk files no manifest names (exit 4; fls/unreferenced.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "commands.h"
#include "fls/archive.h"
#include "fls/byte_size.h"
#include "fls/health_db.h"
#include "fls/pack.h"
#include "fls/store.h"
#include "fls/time_text.h"
#include "fls/unreferenced.h"
#include "object_report_json.h"
#include "progress_bar.h"
#include "store_args.h"

namespace fls::cli {
namespace {

// "  [retained until DATE]" after a listed name that has a retention date.
std::string RetainedNote(std::int64_t retain_until_ns) {
  return retain_until_ns == 0 ? "" : "  [retained until " + FormatTimeNs(retain_until_ns) + "]";
}

// Runs `fn` on the objects named in the positional arguments (looked up one
// by one; the first that cannot be found is the error) or, with none named,
// on every object of the store through a catalogue walk whose findings go
// to *walk (its warnings are printed here).
Status ForEachSelected(const char* cmd, const CommonArgs& a, const Store& store,
                       const std::function<void(CatalogEntry&)>& fn, CatalogWalk* walk) {
  *walk = CatalogWalk{};
  if (!a.positional.empty()) {
    // A packed file is checked (and healed) through its pack, once.
    std::vector<CatalogEntry> entries;
    std::set<std::string> seen;
    for (const std::string& n : a.positional) {
      Located found;
      FLS_RETURN_IF_ERROR(LocateName(store, n, &found));
      if (found.member && !a.json && !a.quiet)
        std::fprintf(stderr, "fls %s: '%s' is packed in %s: checking that pack\n", cmd, n.c_str(),
                     found.packed.pack.c_str());
      if (seen.insert(found.object.manifest.name).second)
        entries.push_back(std::move(found.object));
    }
    for (CatalogEntry& e : entries) fn(e);
    return Status::Ok();
  }
  store.WalkCatalog(
      [&](CatalogEntry& e) {
        fn(e);
        return true;
      },
      walk);
  for (const auto& w : walk->warnings)
    std::fprintf(stderr, "fls %s: warning: %s\n", cmd, w.c_str());
  return Status::Ok();
}

// Names whose every manifest copy is unreadable: printed (stdout), exit 5.
int ReportUnreadable(const CommonArgs& a, const std::vector<UnreadableObject>& list) {
  for (const UnreadableObject& u : list) {
    if (a.json) {
      nlohmann::json j = {{"unreadable", true},
                          {"name", u.name},
                          {"hash", u.hash},
                          {"paths", u.paths},
                          {"problems", u.problems}};
      std::printf("%s\n", j.dump().c_str());
      continue;
    }
    std::printf("%-13s %s: every manifest copy is unreadable\n", "UNREADABLE",
                u.name.empty() ? ("name hash " + u.hash).c_str() : ("'" + u.name + "'").c_str());
    for (const std::string& p : u.problems) std::printf("    %s\n", p.c_str());
  }
  return list.empty() ? kExitOk : kExitUnrecoverable;
}

// Chunk files no manifest names: printed (stdout), exit 4.
int ReportUnreferenced(const CommonArgs& a, const std::vector<UnreferencedChunk>& list) {
  std::uint64_t bytes = 0;
  for (const UnreferencedChunk& u : list) {
    bytes += u.bytes;
    if (a.json) {
      nlohmann::json j = {
          {"unreferenced", u.path}, {"bytes", u.bytes}, {"orphan", u.orphan}, {"reason", u.reason}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%-13s %s (%llu bytes): %s\n", u.orphan ? "ORPHAN" : "LEFTOVER", u.path.c_str(),
                  static_cast<unsigned long long>(u.bytes), u.reason.c_str());
    }
  }
  if (!list.empty() && !a.json)
    std::printf("%zu chunk file(s) that no manifest names (%s)%s\n", list.size(),
                FormatByteSize(bytes).c_str(),
                "; leftovers go with `fls sweep`, orphans are kept: see docs/OPERATIONS.md");
  return list.empty() ? kExitOk : kExitDegraded;
}

void PrintReport(const ObjectReport& r) {
  std::printf("%-13s %s (%llu bytes, generation %llu)\n", HealthName(r.health), r.name.c_str(),
              static_cast<unsigned long long>(r.size),
              static_cast<unsigned long long>(r.generation));
  for (const std::string& n : r.notes) std::printf("    %s\n", n.c_str());
}

void AddVerify(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("verify", "Check every block CRC (--deep: parity and SHA-256)");
  auto a = std::make_shared<CommonArgs>();
  auto deep = std::make_shared<bool>(false);
  AddCommon(cmd, a.get(), true);
  cmd->add_flag("--deep", *deep, "Also recompute parity and the file's SHA-256");
  cmd->add_option("args", a->positional, "[STORE] [NAME...]");
  cmd->callback([a, deep, &exit_code] {
    std::unique_ptr<Store> store;
    Status s = OpenStore(a.get(), 0, &store);
    if (!s.ok()) {
      exit_code = Fail("verify", s);
      return;
    }
    exit_code = kExitOk;
    int healthy = 0, degraded = 0, lost = 0;
    std::uint64_t objects = 0;
    ChunkReferences refs;
    CatalogWalk walk;
    s = ForEachSelected(
        "verify", *a, *store,
        [&](CatalogEntry& e) {
          ++objects;
          refs.Add(*store, e.manifest);
          ProgressBar bar(*a, "verify " + e.manifest.name);
          VerifyOptions vo;
          vo.deep = *deep;
          vo.backend = a->backend;
          vo.threads = a->threads;
          vo.progress = bar.fn();
          ObjectReport r;
          Status vs = VerifyObject(*store, e, vo, &r);
          bar.Done();
          if (!vs.ok()) {
            exit_code = std::max(exit_code, Fail("verify", vs.WithContext(e.manifest.name)));
            return;
          }
          healthy += r.health == Health::kHealthy;
          degraded += r.health == Health::kDegraded;
          lost += r.health == Health::kUnrecoverable;
          exit_code = std::max(exit_code, HealthExit(r.health));
          if (a->json)
            std::printf("%s\n", ReportJson(r, &e.manifest).dump().c_str());
          else if (!a->quiet || r.health != Health::kHealthy)
            PrintReport(r);
        },
        &walk);
    if (!s.ok()) {
      exit_code = Fail("verify", s);
      return;
    }
    std::vector<UnreferencedChunk> unreferenced;
    std::vector<std::string> member_problems;
    if (a->positional.empty()) {
      // The whole store: also chunk files that no manifest names.
      refs.Finish();
      FindUnreferencedChunks(*store, refs, kUnreferencedMinAgeNs, &unreferenced, &walk.warnings);
      exit_code = std::max(exit_code, ReportUnreferenced(*a, unreferenced));
      exit_code = std::max(exit_code, ReportUnreadable(*a, walk.unreadable));
      // Member records that point nowhere (their pack is gone) or cannot be
      // read: the files they name cannot be restored by name.
      WalkMembers(
          *store, [&](MemberEntry&) { return true; }, &member_problems);
      for (const std::string& p : member_problems) {
        if (a->json)
          std::printf("%s\n", nlohmann::json{{"member_record", p}}.dump().c_str());
        else
          std::printf("%-13s %s\n", "MEMBER", p.c_str());
      }
      if (!member_problems.empty()) exit_code = std::max(exit_code, kExitDegraded);
    }
    if (!a->json && !a->quiet)
      std::printf("%llu object(s): %d healthy, %d degraded, %d unrecoverable",
                  static_cast<unsigned long long>(objects), healthy, degraded, lost);
    if (!a->json && !a->quiet)
      std::printf(
          "; %zu unreadable name(s), %zu unreferenced chunk file(s), %zu unusable member "
          "record(s)\n",
          walk.unreadable.size(), unreferenced.size(), member_problems.size());
  });
}

void AddRepair(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("repair", "Rebuild lost or damaged chunks, commit a new manifest");
  auto a = std::make_shared<CommonArgs>();
  AddCommon(cmd, a.get(), true);
  cmd->add_option("args", a->positional, "[STORE] [NAME...]");
  cmd->callback([a, &exit_code] {
    std::unique_ptr<Store> store;
    Status s = OpenStore(a.get(), 0, &store);
    if (!s.ok()) {
      exit_code = Fail("repair", s);
      return;
    }
    CleanStaleTemporaries(*store, "repair");
    exit_code = kExitOk;
    CatalogWalk walk;
    s = ForEachSelected(
        "repair", *a, *store,
        [&](CatalogEntry& e) {
          ProgressBar bar(*a, "repair " + e.manifest.name);
          RepairOptions ro;
          ro.backend = a->backend;
          ro.threads = a->threads;
          ro.progress = bar.fn();
          RepairResult r;
          Status rs = RepairObject(*store, e, ro, &r);
          bar.Done();
          if (!rs.ok()) {
            exit_code = std::max(exit_code, Fail("repair", rs));
            return;
          }
          if (a->json) {
            nlohmann::json j = {
                {"name", e.manifest.name},
                {"before", HealthName(r.before.health)},
                {"rebuilt", r.rebuilt},
                {"paths", r.new_paths},
                {"manifest_rewritten", r.manifest_rewritten},
                {"generation", r.manifest_rewritten ? r.new_generation : e.manifest.generation}};
            std::printf("%s\n", j.dump().c_str());
          } else if (!a->quiet) {
            if (!r.manifest_rewritten) {
              std::printf("healthy       %s: nothing to repair\n", e.manifest.name.c_str());
            } else {
              std::printf("repaired      %s: %zu chunk(s) rebuilt, manifest generation %llu\n",
                          e.manifest.name.c_str(), r.rebuilt.size(),
                          static_cast<unsigned long long>(r.new_generation));
              for (std::size_t i = 0; i < r.rebuilt.size(); ++i)
                std::printf("    chunk %d -> %s\n", r.rebuilt[i], r.new_paths[i].c_str());
            }
          }
        },
        &walk);
    if (!s.ok()) {
      exit_code = Fail("repair", s);
      return;
    }
    exit_code = std::max(exit_code, ReportUnreadable(*a, walk.unreadable));
  });
}

// `ls --degraded`: objects at risk, fewest spare blocks in their worst stripe
// first. The live quick check (headers: lost chunks and targets) is combined
// with what the last sweep found inside the chunks (health database).
int ListDegraded(const CommonArgs& a, const Store& store, const std::string& db_path) {
  std::unique_ptr<HealthDb> db;
  Status s = OpenHealthDb(store, db_path, false, &db);
  if (!s.ok()) return Fail("ls", s);
  struct Row {
    Manifest mf;
    ObjectReport r;
    int spare;
    bool from_sweep;
  };
  std::vector<Row> rows;  // only the objects at risk are kept
  CatalogWalk walk;
  ForEachSelected(
      "ls", a, store,
      [&](CatalogEntry& e) {
        Row row{{}, {}, 0, false};
        QuickCheckObject(store, e, &row.r);
        row.spare = SpareOf(row.r, e.manifest.m);
        ObjectHealth known;
        bool found = false;
        if (db != nullptr) db->LoadObject(ObjectIdToHex(e.manifest.id), &known, &found);
        if (found && known.generation == e.manifest.generation && known.health != "healthy" &&
            known.spare < row.spare) {
          row.spare = known.spare;
          row.from_sweep = true;
          if (row.r.health == Health::kHealthy) row.r.health = Health::kDegraded;
          if (known.health == "unrecoverable") row.r.health = Health::kUnrecoverable;
        }
        if (row.r.health == Health::kHealthy) return;
        row.mf = std::move(e.manifest);
        rows.push_back(std::move(row));
      },
      &walk);
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& x, const Row& y) { return x.spare < y.spare; });
  if (!a.json && !a.quiet)
    std::printf("%5s %-13s %14s %7s  %s\n", "spare", "health", "bytes", "k+m", "name");
  int code = kExitOk;
  for (const Row& row : rows) {
    const Manifest& mf = row.mf;
    code = std::max(code, HealthExit(row.r.health));
    if (a.json) {
      nlohmann::json j = {{"name", mf.name},
                          {"id", ObjectIdToHex(mf.id)},
                          {"size", mf.size},
                          {"k", mf.k},
                          {"m", mf.m},
                          {"spare", row.spare},
                          {"health", HealthName(row.r.health)},
                          {"source", row.from_sweep ? "sweep" : "quick"},
                          {"notes", row.r.notes}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      const std::string km = std::to_string(mf.k) + "+" + std::to_string(mf.m);
      std::printf("%5d %-13s %14llu %7s  %s\n", row.spare, HealthName(row.r.health),
                  static_cast<unsigned long long>(mf.size), km.c_str(), mf.name.c_str());
    }
  }
  return std::max(code, ReportUnreadable(a, walk.unreadable));
}

// `fls ls`: the packed files after the objects, each with its pack's quick
// health (checked once per pack). Unusable member records are warnings.
void ListPackedFiles(const CommonArgs& a, const Store& store) {
  std::map<std::string, Health> pack_health;
  std::vector<std::string> problems;
  WalkMembers(
      store,
      [&](MemberEntry& me) {
        auto it = pack_health.find(me.member.pack);
        if (it == pack_health.end()) {
          ObjectReport r;
          QuickCheckObject(store, me.pack, &r);
          it = pack_health.emplace(me.member.pack, r.health).first;
        }
        const PackEntry& e = me.member;
        if (a.json) {
          nlohmann::json j = {{"name", e.name},
                              {"size", e.length},
                              {"packed_in", e.pack},
                              {"health", HealthName(it->second)},
                              {"mtime_ns", e.mtime_ns}};
          if (e.retain_until_ns != 0) j["retain_until"] = FormatTimeNs(e.retain_until_ns);
          std::printf("%s\n", j.dump().c_str());
        } else if (!a.quiet) {
          std::printf("%-13s %14llu %7s %5s  %s%s\n", HealthName(it->second),
                      static_cast<unsigned long long>(e.length), "packed", "-", e.name.c_str(),
                      RetainedNote(e.retain_until_ns).c_str());
        }
        return true;
      },
      &problems);
  for (const std::string& p : problems) std::fprintf(stderr, "fls ls: warning: %s\n", p.c_str());
}

void AddLs(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("ls", "List the objects in the store (quick health)");
  auto a = std::make_shared<CommonArgs>();
  auto degraded = std::make_shared<bool>(false);
  auto db_path = std::make_shared<std::string>();
  AddCommon(cmd, a.get(), false);
  cmd->add_flag("--degraded", *degraded,
                "Only objects at risk, most at risk first (fewest spare blocks in a stripe)");
  cmd->add_option("--db", *db_path, "Health database for --degraded (default as for sweep)");
  cmd->add_option("args", a->positional, "[STORE]");
  cmd->callback([a, degraded, db_path, &exit_code] {
    std::unique_ptr<Store> store;
    Status s = OpenStoreOnly(a.get(), &store);
    if (!s.ok()) {
      exit_code = Fail("ls", s);
      return;
    }
    if (*degraded) {
      exit_code = ListDegraded(*a, *store, *db_path);
      return;
    }
    exit_code = kExitOk;
    if (!a->json && !a->quiet)
      std::printf("%-13s %14s %7s %5s  %s\n", "health", "bytes", "k+m", "gen", "name");
    CatalogWalk walk;
    // Streamed in the order of the name hashes: memory stays flat however
    // many objects the store holds (pipe through sort for name order).
    ForEachSelected(
        "ls", *a, *store,
        [&](CatalogEntry& e) {
          ObjectReport r;
          QuickCheckObject(*store, e, &r);
          const Manifest& mf = e.manifest;
          if (a->json) {
            nlohmann::json j = {{"name", mf.name},
                                {"id", ObjectIdToHex(mf.id)},
                                {"size", mf.size},
                                {"k", mf.k},
                                {"m", mf.m},
                                {"generation", mf.generation},
                                {"health", HealthName(r.health)},
                                {"mtime_ns", mf.mtime_ns}};
            if (mf.retain_until_ns != 0) j["retain_until"] = FormatTimeNs(mf.retain_until_ns);
            std::printf("%s\n", j.dump().c_str());
          } else if (!a->quiet) {
            const std::string km = std::to_string(mf.k) + "+" + std::to_string(mf.m);
            std::printf("%-13s %14llu %7s %5llu  %s%s\n", HealthName(r.health),
                        static_cast<unsigned long long>(mf.size), km.c_str(),
                        static_cast<unsigned long long>(mf.generation), mf.name.c_str(),
                        RetainedNote(mf.retain_until_ns).c_str());
          }
        },
        &walk);
    exit_code = std::max(exit_code, ReportUnreadable(*a, walk.unreadable));
    ListPackedFiles(*a, *store);
  });
}

}  // namespace

void AddInspectCommands(CLI::App& app, int& exit_code) {
  AddVerify(app, exit_code);
  AddRepair(app, exit_code);
  AddLs(app, exit_code);
  AddInfoCommand(app, exit_code);
}

}  // namespace fls::cli
