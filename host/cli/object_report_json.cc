// ReportJson (object_report_json.h).
#include "object_report_json.h"

namespace fls::cli {

nlohmann::json ReportJson(const ObjectReport& r, const Manifest* mf) {
  nlohmann::json j = {{"name", r.name},
                      {"id", r.id},
                      {"size", r.size},
                      {"generation", r.generation},
                      {"health", HealthName(r.health)},
                      {"manifest_copies", r.manifest_copies},
                      {"manifest_copies_expected", r.manifest_copies_expected},
                      {"unrecoverable_stripes", r.unrecoverable_stripes},
                      {"notes", r.notes}};
  j["chunks"] = nlohmann::json::array();
  for (const ChunkReport& c : r.chunks) {
    nlohmann::json cj = {{"index", c.index},
                         {"path", c.path},
                         {"state", c.state},
                         {"detail", c.detail},
                         {"bad_stripes", c.bad_stripes}};
    if (mf != nullptr && c.index < static_cast<int>(mf->chunks.size())) {
      cj["target"] = mf->chunks[c.index].target;
      if (!mf->chunks[c.index].target_id.empty()) cj["target_id"] = mf->chunks[c.index].target_id;
      cj["domain"] = mf->chunks[c.index].domain;
      cj["bytes"] = mf->chunks[c.index].bytes;
    }
    j["chunks"].push_back(cj);
  }
  return j;
}

}  // namespace fls::cli
