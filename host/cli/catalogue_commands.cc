// `fls ls | info`: the catalogue commands, listing objects (and with
// --degraded the ones at risk) and showing one object's manifest and health.
// The store comes from the same options as the archive commands
// (store_args.h).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "fls/archive.h"
#include "fls/byte_size.h"
#include "fls/health_db.h"
#include "fls/store.h"
#include "store_args.h"

namespace fls::cli {
namespace {

// `ls --degraded`: objects at risk, fewest spare blocks in their worst stripe
// first. The live quick check (headers: lost chunks and targets) is combined
// with what the last sweep found inside the chunks (health database).
int ListDegraded(const CommonArgs& a, const Store& store, const Catalog& c,
                 const std::string& db_path) {
  std::unique_ptr<HealthDb> db;
  Status s = OpenHealthDb(store, db_path, false, &db);
  if (!s.ok()) return Fail("ls", s);
  struct Row {
    const CatalogEntry* e;
    ObjectReport r;
    int spare;
    bool from_sweep;
  };
  std::vector<Row> rows;
  for (const CatalogEntry& e : c.objects) {
    Row row{&e, {}, 0, false};
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
    if (row.r.health != Health::kHealthy) rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& x, const Row& y) { return x.spare < y.spare; });
  if (!a.json && !a.quiet)
    std::printf("%5s %-13s %14s %7s  %s\n", "spare", "health", "bytes", "k+m", "name");
  int code = kExitOk;
  for (const Row& row : rows) {
    const Manifest& mf = row.e->manifest;
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
  return code;
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
    Status s = OpenStore(a.get(), 0, &store);
    if (s.ok() && !a->positional.empty())
      s = Status::InvalidArgument("'" + a->positional[0] + "' is not a store");
    if (!s.ok()) {
      exit_code = Fail("ls", s);
      return;
    }
    Catalog c = store->ReadCatalog();
    for (const auto& w : c.warnings) std::fprintf(stderr, "fls ls: warning: %s\n", w.c_str());
    if (*degraded) {
      exit_code = ListDegraded(*a, *store, c, *db_path);
      return;
    }
    exit_code = kExitOk;
    if (!a->json && !a->quiet)
      std::printf("%-13s %14s %7s %5s  %s\n", "health", "bytes", "k+m", "gen", "name");
    for (const CatalogEntry& e : c.objects) {
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
        std::printf("%s\n", j.dump().c_str());
      } else if (!a->quiet) {
        const std::string km = std::to_string(mf.k) + "+" + std::to_string(mf.m);
        std::printf("%-13s %14llu %7s %5llu  %s\n", HealthName(r.health),
                    static_cast<unsigned long long>(mf.size), km.c_str(),
                    static_cast<unsigned long long>(mf.generation), mf.name.c_str());
      }
    }
  });
}

void AddInfo(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("info", "An object's parameters and where each chunk lives");
  auto a = std::make_shared<CommonArgs>();
  AddCommon(cmd, a.get(), false);
  cmd->add_option("args", a->positional, "[STORE] NAME")->required();
  cmd->callback([a, &exit_code] {
    std::unique_ptr<Store> store;
    Status s = OpenStore(a.get(), 1, &store);
    if (s.ok() && a->positional.size() != 1)
      s = Status::InvalidArgument("info takes one object NAME");
    CatalogEntry e;
    if (s.ok()) s = store->FindObject(a->positional[0], &e);
    if (!s.ok()) {
      exit_code = Fail("info", s);
      return;
    }
    ObjectReport r;
    QuickCheckObject(*store, e, &r);
    const Manifest& mf = e.manifest;
    exit_code = kExitOk;
    if (a->json) {
      nlohmann::json j = ReportJson(r, &mf);
      j["k"] = mf.k;
      j["m"] = mf.m;
      j["matrix"] = std::string(MatrixKindName(mf.matrix));
      j["stripe_width"] = mf.stripe_width;
      j["block_size"] = mf.block_size;
      j["last_block_size"] = mf.geometry().last_block();
      j["stripes"] = mf.stripes;
      j["format_version"] = mf.format_version;
      j["sha256"] = mf.sha256;
      j["mode"] = mf.mode;
      j["mtime_ns"] = mf.mtime_ns;
      j["manifest_copies_paths"] = e.copies;
      std::printf("%s\n", j.dump().c_str());
      return;
    }
    std::printf(
        "name          %s\nid            %s\ngeneration    %llu\nsize          %llu bytes\n"
        "code          k=%d m=%d %s, stripe %s (%llu stripes, blocks of %s, last %s)\n"
        "sha256        %s\nhealth        %s (quick: headers and sizes)\n"
        "manifests     %d of %d copies\n",
        mf.name.c_str(), ObjectIdToHex(mf.id).c_str(),
        static_cast<unsigned long long>(mf.generation), static_cast<unsigned long long>(mf.size),
        mf.k, mf.m, std::string(MatrixKindName(mf.matrix)).c_str(),
        FormatByteSize(mf.stripe_width).c_str(), static_cast<unsigned long long>(mf.stripes),
        FormatByteSize(mf.block_size).c_str(), FormatByteSize(mf.geometry().last_block()).c_str(),
        mf.sha256.c_str(), HealthName(r.health), r.manifest_copies, r.manifest_copies_expected);
    for (const ChunkReport& c : r.chunks)
      std::printf("  chunk %3d  %-16s %-10s %s\n", c.index, mf.chunks[c.index].domain.c_str(),
                  c.state.c_str(), c.path.c_str());
    for (const auto& n : r.notes) std::printf("  %s\n", n.c_str());
  });
}

}  // namespace

void AddCatalogueCommands(CLI::App& app, int& exit_code) {
  AddLs(app, exit_code);
  AddInfo(app, exit_code);
}

}  // namespace fls::cli
