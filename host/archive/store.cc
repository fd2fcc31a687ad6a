#include "fls/store.h"

#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <algorithm>
#include <set>

#include "fls/time_text.h"

namespace fls {

Status Store::FromTargets(Env* env, std::vector<Target> targets, std::unique_ptr<Store>* store) {
  if (targets.empty()) return Status::InvalidArgument("the store has no targets");
  std::set<std::string> seen;
  for (Target& t : targets) {
    if (t.path.empty()) return Status::InvalidArgument("a target has an empty path");
    while (t.path.size() > 1 && t.path.back() == '/') t.path.pop_back();
    // Manifests record target paths: make them independent of the cwd.
    if (t.path[0] != '/') {
      char cwd[4096];
      if (::getcwd(cwd, sizeof cwd) == nullptr)
        return Status::IOError("getcwd failed resolving target " + t.path);
      std::string p = t.path;
      while (p.rfind("./", 0) == 0) p = p.substr(2);
      t.path = p == "." ? std::string(cwd) : JoinPath(cwd, p);
    }
    if (t.domain.empty()) t.domain = t.path;
    if (!seen.insert(t.path).second)
      return Status::InvalidArgument("target " + t.path + " is listed twice");
  }
  std::unique_ptr<Store> made(new Store(env, std::move(targets)));
  {
    std::lock_guard<std::mutex> lock(made->mu_);
    FLS_RETURN_IF_ERROR(made->LoadIdentitiesLocked());
  }
  *store = std::move(made);
  return Status::Ok();
}

Status Store::FromTargetSpecs(Env* env, const std::vector<std::string>& specs,
                              std::unique_ptr<Store>* store) {
  std::vector<Target> targets;
  for (const std::string& spec : specs) {
    Target t;
    const auto eq = spec.find('=');
    t.path = spec.substr(0, eq);
    if (eq != std::string::npos) {
      t.domain = spec.substr(eq + 1);
      if (t.domain.empty())
        return Status::InvalidArgument("--target '" + spec + "': empty domain after '='");
    }
    if (t.path.empty()) return Status::InvalidArgument("--target '" + spec + "': empty path");
    targets.push_back(std::move(t));
  }
  return FromTargets(env, std::move(targets), store);
}

Status Store::FromYamlFile(Env* env, const std::string& path, std::unique_ptr<Store>* store) {
  std::string text;
  FLS_RETURN_IF_ERROR(ReadWholeFile(env, path, &text, 1 << 20));
  auto where = [&](const YAML::Node& n) { return path + ":" + std::to_string(n.Mark().line + 1); };
  std::vector<Target> targets;
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap())
      return Status::InvalidArgument(path + ": the store config must be a map with key 'targets'");
    YAML::Node list = root["targets"];
    if (!list) return Status::InvalidArgument(path + ": missing key 'targets'");
    if (!list.IsSequence() || list.size() == 0)
      return Status::InvalidArgument(where(list) + ": key 'targets' must be a non-empty list");
    for (auto it = root.begin(); it != root.end(); ++it) {
      const std::string key = it->first.as<std::string>();
      if (key != "targets")
        return Status::InvalidArgument(where(it->first) + ": unknown key '" + key + "'");
    }
    const std::string base = DirName(path);
    for (std::size_t i = 0; i < list.size(); ++i) {
      const YAML::Node n = list[i];
      const std::string item = "targets[" + std::to_string(i) + "]";
      if (!n.IsMap())
        return Status::InvalidArgument(where(n) + ": " + item + " must be a map with 'path'");
      for (auto it = n.begin(); it != n.end(); ++it) {
        const std::string key = it->first.as<std::string>();
        if (key != "path" && key != "domain")
          return Status::InvalidArgument(where(it->first) + ": " + item + ": unknown key '" + key +
                                         "' (expected 'path' or 'domain')");
      }
      if (!n["path"] || !n["path"].IsScalar() || n["path"].as<std::string>().empty())
        return Status::InvalidArgument(where(n) + ": " + item + ".path missing or not a string");
      Target t;
      t.path = n["path"].as<std::string>();
      if (t.path[0] != '/' && base != ".") t.path = JoinPath(base, t.path);
      if (n["domain"]) {
        if (!n["domain"].IsScalar() || n["domain"].as<std::string>().empty())
          return Status::InvalidArgument(where(n["domain"]) + ": " + item +
                                         ".domain must be a non-empty string");
        t.domain = n["domain"].as<std::string>();
      }
      targets.push_back(std::move(t));
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  Status s = FromTargets(env, std::move(targets), store);
  return s.ok() ? s : s.WithContext(path);
}

void Store::RemoveStaleTemporaries(std::vector<std::string>* removed,
                                   std::vector<std::string>* warnings) const {
  RemoveStaleTemporariesOnTargets(/*throttled=*/false, removed, warnings);
}

void Store::RemoveStaleTemporariesThrottled(std::vector<std::string>* removed,
                                            std::vector<std::string>* warnings) const {
  RemoveStaleTemporariesOnTargets(/*throttled=*/true, removed, warnings);
}

void Store::RemoveStaleTemporariesOnTargets(bool throttled, std::vector<std::string>* removed,
                                            std::vector<std::string>* warnings) const {
  const std::int64_t now = NowNs();
  std::vector<std::string> ignored;
  if (removed == nullptr) removed = &ignored;
  for (const Target& t : targets_) {
    const std::string marker = JoinPath(t.path, kTempScanMarker);
    FileInfo info;
    if (throttled && env_->GetFileInfo(marker, &info).ok() && info.type == FileType::kRegular &&
        now - info.mtime_ns >= 0 && now - info.mtime_ns < kTempScanIntervalNs)
      continue;
    Status s = RemoveStaleTempFiles(env_, t.path, kStaleTempIdleNs, removed);
    if (s.code() == Status::Code::kNotFound) continue;  // not made yet: nothing to clean
    if (!s.ok()) {
      warnings->push_back("cleaning temporaries: " + s.ToString());
      continue;
    }
    // The marker's mtime is the time of this scan (a new empty file each
    // time). A marker that cannot be written only means the next writer
    // scans again.
    std::unique_ptr<WritableFile> f;
    if (throttled && env_->NewWritableFile(marker, &f).ok()) f->Close();
  }
}

int Store::TargetIndex(const std::string& path) const {
  for (std::size_t i = 0; i < targets_.size(); ++i)
    if (targets_[i].path == path) return static_cast<int>(i);
  return -1;
}

Status PlaceOnTargets(const std::vector<Target>& targets, const std::vector<std::uint64_t>& free,
                      int shards, std::uint64_t chunk_bytes, bool allow_shared,
                      std::vector<int>* placement, std::uint64_t spread) {
  // Domains ordered by total free space, targets inside a domain likewise.
  // Free space counts in 64 MiB units so that nearly equal targets count as
  // equal; ties go round by `spread` (each object starts at another target),
  // else targets sharing one filesystem, which all report the same free
  // space, would always give the first k + m of them every chunk.
  auto units = [&](int i) { return free[i] >> 26; };
  std::map<std::string, std::vector<int>> by_domain;
  std::map<std::string, std::uint64_t> domain_free;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (free[i] < chunk_bytes) continue;  // cannot hold even one chunk
    by_domain[targets[i].domain].push_back(static_cast<int>(i));
    domain_free[targets[i].domain] += units(static_cast<int>(i));
  }
  std::vector<std::string> domains;  // in the order the store lists them
  for (const Target& t : targets) {
    auto it = by_domain.find(t.domain);
    if (it == by_domain.end() ||
        std::find(domains.begin(), domains.end(), t.domain) != domains.end())
      continue;
    std::vector<int>& list = it->second;
    std::rotate(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(spread % list.size()),
                list.end());
    std::stable_sort(list.begin(), list.end(), [&](int a, int b) { return units(a) > units(b); });
    domains.push_back(t.domain);
  }
  if (!domains.empty())
    std::rotate(domains.begin(),
                domains.begin() + static_cast<std::ptrdiff_t>((spread >> 32) % domains.size()),
                domains.end());
  std::stable_sort(domains.begin(), domains.end(), [&](const std::string& a, const std::string& b) {
    return domain_free[a] > domain_free[b];
  });
  // Round-robin over domains: one target from each in turn.
  std::vector<int> order;
  for (std::size_t round = 0;; ++round) {
    bool any = false;
    for (const std::string& d : domains) {
      if (round < by_domain[d].size()) {
        order.push_back(by_domain[d][round]);
        any = true;
      }
    }
    if (!any) break;
  }
  placement->clear();
  if (order.empty())
    return Status::NoSpace("no target has room for a chunk of " + std::to_string(chunk_bytes) +
                           " bytes");
  if (static_cast<int>(order.size()) < shards && !allow_shared)
    return Status::InvalidArgument(
        "the store has " + std::to_string(order.size()) + " usable targets but the object needs " +
        std::to_string(shards) +
        " chunks on distinct targets; add targets, lower -k/-m, or pass --allow-shared-targets");
  std::vector<std::uint64_t> left = free;
  std::size_t next = 0, skipped = 0;
  while (static_cast<int>(placement->size()) < shards) {
    const int t = order[next % order.size()];
    ++next;
    if (left[t] < chunk_bytes) {
      if (++skipped > order.size())
        return Status::NoSpace("the targets have no room left for " + std::to_string(shards) +
                               " chunks of " + std::to_string(chunk_bytes) + " bytes");
      continue;
    }
    skipped = 0;
    left[t] -= chunk_bytes;
    placement->push_back(t);
  }
  return Status::Ok();
}

Status Store::PlaceChunks(int shards, std::uint64_t chunk_bytes, bool allow_shared,
                          std::uint64_t spread, std::vector<int>* placement) const {
  std::vector<std::uint64_t> free(targets_.size(), 0);
  for (std::size_t i = 0; i < targets_.size(); ++i) {
    // Version 2 manifests name targets by identity: only joined ones take chunks.
    if (TargetId(static_cast<int>(i)).empty()) continue;
    FileInfo info;
    if (!env_->GetFileInfo(targets_[i].path, &info).ok() || !info.is_directory) continue;
    if (!env_->GetFreeSpace(targets_[i].path, &free[i]).ok()) free[i] = 0;
  }
  return PlaceOnTargets(targets_, free, shards, chunk_bytes, allow_shared, placement, spread);
}

FaultTolerance ToleranceOf(const std::vector<std::string>& chunk_targets,
                           const std::vector<std::string>& chunk_domains, int m) {
  auto tolerated = [m](const std::vector<std::string>& keys) {
    std::map<std::string, int> count;
    for (const auto& k : keys) ++count[k];
    std::vector<int> c;
    for (auto& [k, n] : count) c.push_back(n);
    std::sort(c.rbegin(), c.rend());
    int lost = 0, failures = 0;
    for (int n : c) {
      if (lost + n > m) break;
      lost += n;
      ++failures;
    }
    return failures;
  };
  return {tolerated(chunk_targets), tolerated(chunk_domains)};
}

}  // namespace fls
