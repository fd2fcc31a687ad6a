// ManifestTargets and CommitManifest (host/archive/manifest_commit.h).
#include "manifest_commit.h"

#include <algorithm>
#include <set>

#include "object_io.h"

namespace fls::internal {

std::vector<std::string> ManifestTargets(const Store& store, const Manifest& mf) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const ManifestChunk& c : mf.chunks)
    if (seen.insert(c.target).second) out.push_back(c.target);
  for (const Target& t : store.targets()) {
    if (static_cast<int>(out.size()) >= mf.m + 1) break;
    FileInfo info;
    if (!store.env()->GetFileInfo(t.path, &info).ok() || !info.is_directory) continue;
    if (seen.insert(t.path).second) out.push_back(t.path);
  }
  return out;
}

Status CommitManifest(Env* env, const Manifest& mf, std::vector<std::string>* written) {
  const std::string text = EncodeManifest(mf);
  const std::string name = ManifestFileName(mf.id, mf.generation);
  for (const std::string& t : mf.manifest_targets) {
    const std::string path = JoinPath(t, name);
    Status s = WriteFileDurably(env, path, text);
    if (!s.ok()) {
      // The rename may have happened before the directory fsync failed: this
      // copy is then in place. Generation names are never reused, so the
      // file at `path` can only be ours; leaving it would make a rolled-back
      // object visible.
      env->RemoveFile(path);
      for (const std::string& p : *written) {
        env->RemoveFile(p);
        env->SyncDir(DirName(p));
      }
      written->clear();
      return s.WithContext("writing manifest copy on target " + t);
    }
    written->push_back(path);
  }
  return Status::Ok();
}

Status CommitNextGeneration(const Store& store, const CatalogEntry& entry, Manifest* next,
                            std::vector<std::string>* written) {
  Env* env = store.env();
  next->generation = entry.manifest.generation + 1;
  for (const auto& c : entry.stale_copies) {
    ObjectId id;
    std::uint64_t g = 0;
    if (ParseManifestFileName(BaseName(c), &id, &g))
      next->generation = std::max(next->generation, g + 1);
  }
  next->manifest_targets.clear();
  for (const std::string& t : ManifestTargets(store, *next)) {
    FileInfo info;
    if (env->GetFileInfo(t, &info).ok() && info.is_directory) next->manifest_targets.push_back(t);
  }
  FLS_RETURN_IF_ERROR(ValidateManifest(*next));
  return CommitManifest(env, *next, written);
}

void RemoveSupersededCopies(Env* env, const CatalogEntry& entry) {
  std::set<std::string> dirs;
  for (const auto& list : {entry.copies, entry.stale_copies})
    for (const std::string& p : list)
      if (env->RemoveFile(p).ok()) dirs.insert(DirName(p));
  for (const auto& d : dirs) env->SyncDir(d);
}

}  // namespace fls::internal
