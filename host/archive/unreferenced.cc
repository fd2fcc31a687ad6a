// ChunkReferences and FindUnreferencedChunks (fls/unreferenced.h).
#include "fls/unreferenced.h"

#include <algorithm>
#include <chrono>

namespace fls {

void ChunkReferences::Add(const Store& store, const Manifest& m) {
  Ref r;
  r.id = m.id;
  r.first = static_cast<std::uint32_t>(targets_.size());
  r.count = static_cast<std::uint16_t>(m.chunks.size());
  r.bytes = m.chunks.empty() ? 0 : m.chunks[0].bytes;
  for (const ManifestChunk& c : m.chunks) {
    targets_.push_back(static_cast<std::int16_t>(store.TargetIndexOf(c)));
    crcs_.push_back(c.crc32c);
  }
  refs_.push_back(r);
  finished_ = false;
}

void ChunkReferences::Finish() {
  std::stable_sort(refs_.begin(), refs_.end(),
                   [](const Ref& a, const Ref& b) { return a.id < b.id; });
  // Keep the last Add of each id (stable sort keeps Add order within an id).
  std::vector<Ref> last;
  for (std::size_t i = 0; i < refs_.size(); ++i)
    if (i + 1 == refs_.size() || refs_[i + 1].id != refs_[i].id) last.push_back(refs_[i]);
  refs_ = std::move(last);
  refs_.shrink_to_fit();
  finished_ = true;
}

const ChunkReferences::Ref* ChunkReferences::Find(const ObjectId& id) const {
  auto it = std::lower_bound(refs_.begin(), refs_.end(), id,
                             [](const Ref& r, const ObjectId& v) { return r.id < v; });
  return it != refs_.end() && it->id == id ? &*it : nullptr;
}

bool ChunkReferences::Expected(const ObjectId& id, int index, std::uint32_t* crc32c,
                               std::uint64_t* bytes) const {
  const Ref* r = Find(id);
  if (r == nullptr || index < 0 || index >= r->count) return false;
  *crc32c = crcs_[r->first + index];
  *bytes = r->bytes;
  return true;
}

bool ChunkReferences::Knows(const ObjectId& id) const { return Find(id) != nullptr; }

int ChunkReferences::PlacedTarget(const ObjectId& id, int index) const {
  const Ref* r = Find(id);
  if (r == nullptr) return -2;
  if (index < 0 || index >= r->count) return -1;
  return targets_[r->first + index];
}

void FindUnreferencedChunks(const Store& store, const ChunkReferences& refs,
                            std::int64_t min_age_ns, std::vector<UnreferencedChunk>* out,
                            std::vector<std::string>* warnings) {
  Env* env = store.env();
  const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const auto& targets = store.targets();
  for (std::size_t t = 0; t < targets.size(); ++t) {
    Status s = env->ForEachChild(targets[t].path, [&](std::string_view n) {
      UnreferencedChunk u;
      if (!ParseChunkFileName(n, &u.id, &u.index)) return true;
      const int placed = refs.PlacedTarget(u.id, u.index);
      if (placed == static_cast<int>(t)) return true;
      u.path = JoinPath(targets[t].path, std::string(n));
      u.orphan = placed == -2;
      if (!u.orphan) {
        // Placed on a target the store does not have: this may be the copy
        // readers use (misplaced), which the object's own check reports.
        if (placed < 0) return true;
        FileInfo placed_info;
        const std::string placed_path = JoinPath(targets[placed].path, std::string(n));
        if (!env->GetFileInfo(placed_path, &placed_info).ok()) return true;
        u.reason = "a leftover: the manifest places chunk " + std::to_string(u.index) + " at " +
                   placed_path;
      } else {
        u.reason = "no readable manifest names object " + ObjectIdToHex(u.id);
      }
      FileInfo info;
      if (!env->GetFileInfo(u.path, &info).ok() || info.is_directory) return true;
      if (now_ns - info.mtime_ns < min_age_ns) return true;  // a writer may be committing it
      u.bytes = info.size;
      out->push_back(std::move(u));
      return true;
    });
    if (!s.ok() && s.code() != Status::Code::kNotFound && warnings != nullptr)
      warnings->push_back("target " + targets[t].path + " unreadable: " + s.message());
  }
}

}  // namespace fls
