// The Store's target identities (fls/store.h, host/archive/target_identity.h).
#include <algorithm>
#include <chrono>
#include <set>

#include "fls/store.h"
#include "target_identity.h"

namespace fls {

using internal::TargetIdentity;

Status Store::LoadIdentitiesLocked() const {
  if (ids_.size() != targets_.size()) ids_.assign(targets_.size(), Identity{});
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    Identity& id = ids_[i];
    if (!id.target_id.empty()) continue;
    TargetIdentity t;
    Status s = internal::ReadTargetIdentity(env_, targets_[i].path, &t);
    if (s.code() == Status::Code::kNotFound) {
      id.problem.clear();
      continue;
    }
    if (!s.ok()) {
      id.problem =
          "target " + targets_[i].path + ": identity unreadable, not written to: " + s.message();
      continue;
    }
    id = Identity{t.store_id, t.target_id, t.v1_objects, t.created_ns, "", t.members};
  }
  // One store, and each target only once.
  int first = -1;
  std::map<std::string, int> by_id;
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    const Identity& id = ids_[i];
    if (id.target_id.empty()) continue;
    if (first < 0) first = static_cast<int>(i);
    if (id.store_id != ids_[first].store_id)
      return Status::InvalidArgument(
          "targets " + targets_[first].path + " (store " + ids_[first].store_id + ") and " +
          targets_[i].path + " (store " + id.store_id +
          ") belong to different stores; a store's config must list targets of one store only");
    auto [it, fresh] = by_id.emplace(id.target_id, static_cast<int>(i));
    if (!fresh)
      return Status::InvalidArgument("targets " + targets_[it->second].path + " and " +
                                     targets_[i].path + " carry the same identity " + id.target_id +
                                     " (is one a copy of the other?)");
  }
  if (first >= 0) store_id_ = ids_[first].store_id;
  members_.clear();
  for (const Identity& id : ids_)
    for (const auto& [tid, path] : id.members) members_.emplace(tid, path);
  return Status::Ok();
}

int Store::IndexOfIdLocked(const std::string& id) const {
  for (std::size_t i = 0; i < ids_.size(); ++i)
    if (ids_[i].target_id == id) return static_cast<int>(i);
  auto it = members_.find(id);
  if (it == members_.end()) return -1;
  for (std::size_t i = 0; i < targets_.size(); ++i)
    if (targets_[i].path == it->second && ids_[i].target_id.empty()) return static_cast<int>(i);
  return -1;
}

Status Store::UpdateMembersLocked() const {
  std::map<std::string, std::string> want;
  std::set<std::string> joined_paths;
  for (std::size_t i = 0; i < targets_.size(); ++i)
    if (!ids_[i].target_id.empty()) {
      want[ids_[i].target_id] = targets_[i].path;
      joined_paths.insert(targets_[i].path);
    }
  // Targets that are gone stay remembered, unless their directory is now
  // another target's.
  for (const auto& [tid, path] : members_)
    if (!want.count(tid) && !joined_paths.count(path)) want[tid] = path;
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    Identity& id = ids_[i];
    if (id.target_id.empty() || id.members == want) continue;
    TargetIdentity t{id.store_id, id.target_id, id.created_ns, id.v1_objects, id.members};
    FLS_RETURN_IF_ERROR(internal::SetMembers(env_, targets_[i].path, t, want));
    id.members = want;
  }
  members_ = want;
  return Status::Ok();
}

Status Store::Join() const {
  std::lock_guard<std::mutex> lock(mu_);
  FLS_RETURN_IF_ERROR(LoadIdentitiesLocked());
  // A fresh store gets a new id, unless another process joining the same
  // targets right now wins the first of them: then its id is the store's.
  const bool fresh = store_id_.empty();
  std::string sid = fresh ? internal::NewStoreId() : store_id_;
  bool created = false;
  const std::int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    Identity& id = ids_[i];
    if (!id.target_id.empty() || !id.problem.empty()) continue;
    const std::string& dir = targets_[i].path;
    FileInfo info;
    if (!env_->GetFileInfo(dir, &info).ok() || !info.is_directory) continue;  // lost or absent
    TargetIdentity want{sid, internal::NewTargetId(), now, false, {}}, got;
    FLS_RETURN_IF_ERROR(internal::HoldsV1Manifests(env_, dir, &want.v1_objects)
                            .WithContext("target " + dir + " joining the store"));
    FLS_RETURN_IF_ERROR(internal::CreateTargetIdentity(env_, dir, want, &got));
    if (got.store_id != sid) {
      if (!fresh || created)
        return Status::InvalidArgument("target " + dir + " joined store " + got.store_id +
                                       " meanwhile, not this store (" + sid + ")");
      sid = got.store_id;
    }
    created = created || got.target_id == want.target_id;
    id = Identity{got.store_id, got.target_id, got.v1_objects, got.created_ns, "", got.members};
    store_id_ = sid;
  }
  FLS_RETURN_IF_ERROR(LoadIdentitiesLocked());
  return UpdateMembersLocked();
}

std::string Store::store_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return store_id_;
}

std::string Store::TargetId(int i) const {
  std::lock_guard<std::mutex> lock(mu_);
  return i >= 0 && i < static_cast<int>(ids_.size()) ? ids_[i].target_id : std::string();
}

int Store::TargetIndexById(std::string_view id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return IndexOfIdLocked(std::string(id));
}

int Store::TargetIndexOf(const ManifestChunk& c) const {
  return c.target_id.empty() ? TargetIndex(c.target) : TargetIndexById(c.target_id);
}

std::vector<std::string> Store::IdentityWarnings() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const Identity& id : ids_)
    if (!id.problem.empty()) out.push_back(id.problem);
  return out;
}

namespace {

// Store::Resolve for a path-addressed manifest (fls/store.h).
void ResolvePaths(Env* env, const Store& store, Manifest* m) {
  const std::vector<Target>& targets = store.targets();
  // The store's targets holding `file`, in target order.
  auto holders = [&](const std::string& file) {
    std::vector<int> out;
    for (std::size_t t = 0; t < targets.size(); ++t) {
      FileInfo info;
      if (env->GetFileInfo(JoinPath(targets[t].path, file), &info).ok() && !info.is_directory)
        out.push_back(static_cast<int>(t));
    }
    return out;
  };
  for (ManifestChunk& c : m->chunks) {
    if (store.TargetIndex(c.target) >= 0) continue;
    const std::vector<int> h = holders(c.file);
    if (h.empty()) continue;
    c.target = targets[h.front()].path;
    c.domain = targets[h.front()].domain;
  }
  std::vector<int> copies;  // holders of a copy not yet named in manifest_targets
  bool listed = false;
  for (std::string& dir : m->manifest_targets) {
    if (store.TargetIndex(dir) >= 0) continue;
    if (!listed) {
      listed = true;
      for (int t : holders(ManifestFileName(m->id, m->generation)))
        if (std::find(m->manifest_targets.begin(), m->manifest_targets.end(), targets[t].path) ==
            m->manifest_targets.end())
          copies.push_back(t);
    }
    if (copies.empty()) continue;
    dir = targets[copies.front()].path;
    copies.erase(copies.begin());
  }
}

}  // namespace

void Store::Resolve(Manifest* m) const {
  if (IsPathAddressedManifest(m->format_version)) {
    ResolvePaths(env_, *this, m);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto find = [&](const std::string& id) { return IndexOfIdLocked(id); };
  bool reloaded = false;
  auto index_of = [&](const std::string& id) {
    int t = find(id);
    if (t < 0 && !reloaded) {
      // Another process may have joined a target since this store was opened.
      reloaded = true;
      if (LoadIdentitiesLocked().ok()) t = find(id);
    }
    return t;
  };
  for (ManifestChunk& c : m->chunks) {
    const int t = index_of(c.target_id);
    c.target = t < 0 ? std::string() : targets_[t].path;
    c.domain = t < 0 ? std::string() : targets_[t].domain;
  }
  m->manifest_targets.clear();
  for (const std::string& id : m->manifest_target_ids) {
    const int t = index_of(id);
    m->manifest_targets.push_back(t < 0 ? std::string() : targets_[t].path);
  }
}

Status Store::NoteV1Manifest(int i) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (i < 0 || i >= static_cast<int>(ids_.size())) return Status::Ok();
  Identity& id = ids_[i];
  if (id.target_id.empty() || id.v1_objects) return Status::Ok();
  TargetIdentity t{id.store_id, id.target_id, id.created_ns, false, id.members};
  FLS_RETURN_IF_ERROR(internal::SetV1Objects(env_, targets_[i].path, t, true));
  id.v1_objects = true;
  return Status::Ok();
}

bool Store::MayHoldV1Locked() const {
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    const Identity& id = ids_[i];
    if (!id.target_id.empty()) {
      if (id.v1_objects) return true;
      continue;
    }
    // Not joined: a version 1 target, unless the directory is not there. A
    // damaged identity tells nothing: it may be one too.
    FileInfo info;
    if (!id.problem.empty() ||
        (env_->GetFileInfo(targets_[i].path, &info).ok() && info.is_directory))
      return true;
  }
  return false;
}

bool Store::MayHoldV1() const {
  std::lock_guard<std::mutex> lock(mu_);
  return MayHoldV1Locked();
}

}  // namespace fls
