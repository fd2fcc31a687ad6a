// Manifest copy placement and the commit (host/archive/manifest_commit.h).
#include "manifest_commit.h"

#include <openssl/sha.h>

#include <algorithm>
#include <set>

namespace fls::internal {
namespace {

bool IsDirectory(Env* env, const std::string& path) {
  FileInfo info;
  return !path.empty() && env->GetFileInfo(path, &info).ok() && info.is_directory;
}

void ChooseV1(const Store& store, Manifest* mf) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const ManifestChunk& c : mf->chunks)
    if (seen.insert(c.target).second && IsDirectory(store.env(), c.target)) out.push_back(c.target);
  for (const Target& t : store.targets()) {
    if (static_cast<int>(out.size()) >= mf->m + 1) break;
    if (!IsDirectory(store.env(), t.path)) continue;
    if (seen.insert(t.path).second) out.push_back(t.path);
  }
  mf->manifest_targets = out;
  mf->manifest_target_ids.clear();
}

void ChooseV2(const Store& store, Manifest* mf) {
  const std::string hash = NameHash(mf->name);
  struct Candidate {
    std::uint64_t score;
    int target;
  };
  auto ranked = [&](const std::set<int>& targets) {
    std::vector<Candidate> c;
    for (int t : targets) c.push_back({RendezvousScore(hash, store.TargetId(t)), t});
    std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) {
      return a.score != b.score ? a.score > b.score : a.target < b.target;
    });
    return c;
  };
  std::set<int> chunk_targets, others;
  for (const ManifestChunk& c : mf->chunks) {
    const int t = store.TargetIndexOf(c);
    if (t >= 0 && !store.TargetId(t).empty() && IsDirectory(store.env(), store.targets()[t].path))
      chunk_targets.insert(t);
  }
  for (std::size_t t = 0; t < store.targets().size(); ++t)
    if (!chunk_targets.count(static_cast<int>(t)) && !store.TargetId(static_cast<int>(t)).empty() &&
        IsDirectory(store.env(), store.targets()[t].path))
      others.insert(static_cast<int>(t));
  mf->manifest_targets.clear();
  mf->manifest_target_ids.clear();
  for (const auto& list : {ranked(chunk_targets), ranked(others)})
    for (const Candidate& c : list) {
      if (static_cast<int>(mf->manifest_targets.size()) >= mf->m + 1) return;
      mf->manifest_targets.push_back(store.targets()[c.target].path);
      mf->manifest_target_ids.push_back(store.TargetId(c.target));
    }
}

// Version 1: each generation has its own file names; undoing means removing.
Status CommitV1(Env* env, const Manifest& mf, std::vector<std::string>* written) {
  const std::string text = EncodeManifest(mf);
  const std::string name = ManifestFileNameOf(mf);
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

}  // namespace

std::uint64_t RendezvousScore(const std::string& hash, const std::string& target_id) {
  unsigned char in[32];
  for (int i = 0; i < 16; ++i)
    in[i] = static_cast<unsigned char>(std::stoi(hash.substr(2 * i, 2), nullptr, 16));
  for (int i = 0; i < 16; ++i)
    in[16 + i] =
        static_cast<unsigned char>(i < static_cast<int>(target_id.size()) ? target_id[i] : 0);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(in, sizeof in, digest);
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | digest[i];
  return v;
}

void ChooseManifestTargets(const Store& store, Manifest* mf) {
  if (IsPathAddressedManifest(mf->format_version))
    ChooseV1(store, mf);
  else
    ChooseV2(store, mf);
}

Status CommitManifest(Env* env, const Manifest& mf, std::vector<std::string>* written,
                      const std::string& previous) {
  if (IsPathAddressedManifest(mf.format_version)) return CommitV1(env, mf, written);
  const std::string text = EncodeManifest(mf);
  const std::string name = ManifestFileNameOf(mf);
  struct Copy {
    std::string target, path, tmp;
    bool renamed = false;
  };
  std::vector<Copy> copies;
  for (const std::string& t : mf.manifest_targets)
    copies.push_back({t, JoinPath(t, name), TempPathFor(JoinPath(t, name))});
  auto drop_temps = [&] {
    for (const Copy& c : copies)
      if (!c.renamed) env->RemoveFile(c.tmp);
  };
  // 1. Every copy durable under a temporary name: nothing visible changes.
  for (const Copy& c : copies) {
    std::unique_ptr<WritableFile> f;
    Status s = env->NewWritableFile(c.tmp, &f);
    if (s.ok()) s = f->Append(text.data(), text.size());
    if (s.ok()) s = f->Sync();
    if (s.ok()) s = f->Close();
    if (!s.ok()) {
      f.reset();
      drop_temps();
      return s.WithContext("writing manifest copy on target " + c.target);
    }
  }
  // 2. Renamed over the fixed names (each atomically), directories fsynced.
  Status failed;
  std::string where;
  for (Copy& c : copies) {
    Status s = env->RenameFile(c.tmp, c.path);
    if (s.ok()) {
      c.renamed = true;
      s = env->SyncDir(c.target);
    }
    if (!s.ok()) {
      failed = s;
      where = c.target;
      break;
    }
    written->push_back(c.path);
  }
  if (failed.ok()) return Status::Ok();
  // Put back what the renamed copies replaced: the previous generation, or
  // nothing for a first one.
  drop_temps();
  for (const Copy& c : copies) {
    if (!c.renamed) continue;
    if (previous.empty()) {
      env->RemoveFile(c.path);
      env->SyncDir(c.target);
    } else {
      WriteFileDurably(env, c.path, previous);
    }
  }
  written->clear();
  return failed.WithContext("writing manifest copy on target " + where);
}

Status CommitNextGeneration(const Store& store, const CatalogEntry& entry, Manifest* next,
                            std::vector<std::string>* written) {
  next->generation = std::max(entry.manifest.generation, entry.max_generation) + 1;
  ChooseManifestTargets(store, next);
  if (next->manifest_targets.empty())
    return Status::IOError("no target directory is left to hold a manifest copy of '" + next->name +
                           "'");
  if (IsPathAddressedManifest(next->format_version))
    for (const std::string& t : next->manifest_targets)
      FLS_RETURN_IF_ERROR(store.NoteV1Manifest(store.TargetIndex(t)));
  FLS_RETURN_IF_ERROR(ValidateManifest(*next));
  return CommitManifest(store.env(), *next, written, EncodeManifest(entry.manifest));
}

void RemoveSupersededCopies(Env* env, const CatalogEntry& entry,
                            const std::vector<std::string>& keep) {
  const std::set<std::string> kept(keep.begin(), keep.end());
  std::set<std::string> dirs;
  for (const auto& list : {entry.copies, entry.stale_copies, entry.bad_copies})
    for (const std::string& p : list)
      if (!kept.count(p) && env->RemoveFile(p).ok()) dirs.insert(DirName(p));
  for (const auto& d : dirs) env->SyncDir(d);
}

}  // namespace fls::internal
