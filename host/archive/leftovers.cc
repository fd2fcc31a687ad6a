#include "leftovers.h"

#include <chrono>
#include <map>
#include <memory>

#include "chunk_checksum.h"
#include "manifest_commit.h"

namespace fls::internal {
bool CleanLeftovers(const Store& store, const Catalog& catalog, std::vector<std::string>* cleaned,
                    std::vector<std::string>* warnings, std::set<ObjectId>* in_flux) {
  Env* env = store.env();
  bool changed = false;
  std::map<ObjectId, const CatalogEntry*> by_id;
  const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  for (const CatalogEntry& e : catalog.objects) {
    const bool partial = e.copies.size() < e.manifest.manifest_targets.size();
    if (partial && e.manifest.generation == 1) {
      FileInfo info;
      if (!e.copies.empty() && env->GetFileInfo(e.copies.front(), &info).ok() &&
          now_ns - info.mtime_ns < Store::kStaleTempIdleNs) {
        in_flux->insert(e.manifest.id);
        warnings->push_back("'" + e.manifest.name +
                            "': its manifest is still being written (an archive in "
                            "progress?); left where it is");
        continue;
      }
    }
    by_id[e.manifest.id] = &e;
    if (!partial && e.stale_copies.empty()) continue;
    if (partial) {
      Manifest next = e.manifest;
      std::vector<std::string> written;
      Status s = internal::CommitNextGeneration(store, e, &next, &written);
      if (!s.ok()) {
        warnings->push_back("re-committing the manifest of '" + e.manifest.name +
                            "': " + s.ToString());
        continue;
      }
    }
    for (const auto& list : {partial ? e.copies : std::vector<std::string>{}, e.stale_copies})
      cleaned->insert(cleaned->end(), list.begin(), list.end());
    CatalogEntry superseded;
    if (partial) superseded.copies = e.copies;
    superseded.stale_copies = e.stale_copies;
    internal::RemoveSupersededCopies(env, superseded);
    changed = true;
  }
  for (const Target& t : store.targets()) {
    std::vector<std::string> names;
    if (!env->GetChildren(t.path, &names).ok()) continue;
    bool removed_here = false;
    for (const std::string& n : names) {
      ObjectId id;
      int index = 0;
      if (!ParseChunkFileName(n, &id, &index)) continue;
      auto it = by_id.find(id);
      if (it == by_id.end()) continue;
      const Manifest& mf = it->second->manifest;
      if (index >= static_cast<int>(mf.chunks.size()) || mf.chunks[index].target == t.path)
        continue;
      const ManifestChunk& placed = mf.chunks[index];
      const std::string path = JoinPath(t.path, n);
      if (!CheckChunkFile(env, placed.path(), mf, index).ok()) {
        warnings->push_back("kept " + path + ": the copy the manifest of '" + mf.name +
                            "' names (" + placed.path() +
                            ") is missing or damaged; run `fls repair`");
        continue;
      }
      if (env->RemoveFile(path).ok()) {
        cleaned->push_back(path);
        removed_here = changed = true;
      }
    }
    if (removed_here) env->SyncDir(t.path);
  }
  return changed;
}

}  // namespace fls::internal
