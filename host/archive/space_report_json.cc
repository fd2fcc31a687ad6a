// SpaceReportJson (fls/space_report.h): the stable JSON form of a report.
#include <nlohmann/json.hpp>

#include "fls/space_report.h"

namespace fls {
namespace {

nlohmann::json BytesJson(const SpaceBytes& b) {
  return {{"data", b.data},
          {"padding", b.padding},
          {"parity", b.parity},
          {"headers", b.headers},
          {"dead", b.dead},
          {"manifests", b.manifests},
          {"damaged", b.damaged},
          {"leftovers",
           {{"temporaries", b.temporaries},
            {"orphan_chunks", b.orphan_chunks},
            {"leftover_chunks", b.leftover_chunks},
            {"other", b.other},
            {"total", b.leftovers()}}},
          {"total", b.total()},
          {"allocated", b.allocated()},
          {"allocated_by",
           {{"chunks", b.chunks_allocated},
            {"manifests", b.manifests_allocated},
            {"damaged", b.damaged_allocated},
            {"leftovers", b.leftovers_allocated}}},
          {"files", b.files},
          {"foreign_files", b.foreign_files},
          {"foreign_bytes", b.foreign_bytes}};
}

}  // namespace

std::string SpaceReportJson(const SpaceReport& r, bool with_targets) {
  nlohmann::json j = {{"format", "fls-df/1"},
                      {"total", BytesJson(r.total)},
                      {"free", r.free},
                      {"objects", r.objects},
                      {"packs", r.packs},
                      {"live_members", r.live_members},
                      {"dead_members", r.dead_members},
                      {"live_source_bytes", r.live_source_bytes},
                      {"overhead_ratio", r.live_source_bytes > 0 ? nlohmann::json(r.overhead_ratio)
                                                                 : nlohmann::json(nullptr)},
                      {"warnings", r.warnings}};
  if (with_targets) {
    nlohmann::json targets = nlohmann::json::array();
    for (const TargetSpace& t : r.targets)
      targets.push_back({{"path", t.path},
                         {"domain", t.domain},
                         {"readable", t.readable},
                         {"free", t.free_known ? nlohmann::json(t.free) : nlohmann::json(nullptr)},
                         {"shares_fs_with", t.shares_fs_with >= 0 ? nlohmann::json(t.shares_fs_with)
                                                                  : nlohmann::json(nullptr)},
                         {"bytes", BytesJson(t.bytes)}});
    j["targets"] = targets;
  }
  return j.dump();
}

}  // namespace fls
