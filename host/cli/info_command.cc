// `fls info NAME`: an object's parameters and where each chunk lives, or a
// packed file's record and its pack's quick health.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "fls/archive.h"
#include "fls/byte_size.h"
#include "fls/pack.h"
#include "fls/store.h"
#include "fls/time_text.h"
#include "object_report_json.h"
#include "store_args.h"

namespace fls::cli {
namespace {

// `fls info` of a packed file: the file, then where it lies and how its
// pack is (quick check).
void PrintMemberInfo(const CommonArgs& a, const PackEntry& e, const ObjectReport& pack) {
  if (a.json) {
    nlohmann::json j = {
        {"name", e.name},       {"size", e.length},       {"sha256", e.sha256},
        {"mode", e.mode},       {"mtime_ns", e.mtime_ns}, {"packed_in", e.pack},
        {"pack_id", e.pack_id}, {"offset", e.offset},     {"health", HealthName(pack.health)}};
    if (e.retain_until_ns != 0) j["retain_until"] = FormatTimeNs(e.retain_until_ns);
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  std::printf(
      "name          %s\nsize          %llu bytes\nsha256        %s\nmode          %04o\n"
      "packed in     %s (id %s) at offset %llu\nhealth        %s (the pack's, quick: headers "
      "and sizes; `fls info %s` for its chunks)\n",
      e.name.c_str(), static_cast<unsigned long long>(e.length), e.sha256.c_str(), e.mode,
      e.pack.c_str(), e.pack_id.c_str(), static_cast<unsigned long long>(e.offset),
      HealthName(pack.health), e.pack.c_str());
  if (e.retain_until_ns != 0)
    std::printf("retained      until %s\n", FormatTimeNs(e.retain_until_ns).c_str());
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
    Located found;
    if (s.ok()) s = LocateName(*store, a->positional[0], &found);
    if (!s.ok()) {
      exit_code = Fail("info", s);
      return;
    }
    const CatalogEntry& e = found.object;
    ObjectReport r;
    QuickCheckObject(*store, e, &r);
    exit_code = kExitOk;
    if (found.member) {
      PrintMemberInfo(*a, found.packed, r);
      return;
    }
    const Manifest& mf = e.manifest;
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
      if (mf.retain_until_ns != 0) j["retain_until"] = FormatTimeNs(mf.retain_until_ns);
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
    if (mf.retain_until_ns != 0)
      std::printf("retained      until %s\n", FormatTimeNs(mf.retain_until_ns).c_str());
    for (const ChunkReport& c : r.chunks)
      std::printf("  chunk %3d  %-16s %-10s %s\n", c.index, mf.chunks[c.index].domain.c_str(),
                  c.state.c_str(), c.path.c_str());
    for (const auto& n : r.notes) std::printf("  %s\n", n.c_str());
  });
}

}  // namespace

void AddInfoCommand(CLI::App& app, int& exit_code) { AddInfo(app, exit_code); }

}  // namespace fls::cli
