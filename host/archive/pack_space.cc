#include "pack_space.h"

#include <algorithm>

#include "fls/backend_registry.h"
#include "fls/pack.h"
#include "member_lookup.h"
#include "object_io.h"

namespace fls::internal {

void AddRangeByChunk(const StripeGeometry& g, std::uint64_t begin, std::uint64_t end,
                     std::vector<std::uint64_t>* per_chunk) {
  if (begin >= end || begin >= g.file_size()) return;
  end = std::min(end, g.file_size());
  const std::uint64_t last = g.stripe_of(end - 1);
  for (std::uint64_t s = g.stripe_of(begin); s <= last; ++s) {
    for (int j = 0; j < g.k(); ++j) {
      const ByteRange r = g.data_block_range(s, j);
      const std::uint64_t lo = std::max(r.begin, begin), hi = std::min(r.end, end);
      if (lo < hi) (*per_chunk)[j] += hi - lo;
    }
  }
}

Status IndexBackends::Get(int k, int m, MatrixKind matrix, std::shared_ptr<Backend>* backend) {
  auto key = std::make_tuple(k, m, static_cast<int>(matrix));
  auto it = backends_.find(key);
  if (it == backends_.end()) {
    std::shared_ptr<Backend> b;
    FLS_RETURN_IF_ERROR(SharedOrNewBackend(nullptr, "auto", 1, k, m, matrix, &b));
    it = backends_.emplace(key, std::move(b)).first;
  }
  *backend = it->second;
  return Status::Ok();
}

Status SplitPack(const Store& store, const CatalogEntry& pack, IndexBackends* backends,
                 PackSplit* split, std::vector<std::string>* warnings) {
  const Manifest& mf = pack.manifest;
  const StripeGeometry g = mf.geometry();
  *split = PackSplit{};
  split->live.assign(mf.k, 0);
  split->dead.assign(mf.k, 0);
  split->index.assign(mf.k, 0);
  std::shared_ptr<Backend> backend;
  FLS_RETURN_IF_ERROR(backends->Get(mf.k, mf.m, mf.matrix, &backend));
  std::vector<PackEntry> entries;
  std::uint64_t index_bytes = 0;
  bool recorded = false;
  FLS_RETURN_IF_ERROR(
      ReadPackIndex(store, pack, &entries, &recorded, backend.get(), &index_bytes));
  AddRangeByChunk(g, mf.size - index_bytes, mf.size, &split->index);
  std::sort(entries.begin(), entries.end(),
            [](const PackEntry& a, const PackEntry& b) { return a.offset < b.offset; });
  const std::string pack_id = ObjectIdToHex(mf.id);
  std::uint64_t covered = 0;  // members before this end here
  for (const PackEntry& e : entries) {
    Located found;
    const Status s = LocateName(store, e.name, &found);
    bool live = s.ok() && found.member && found.packed.pack_id == pack_id &&
                found.packed.offset == e.offset;
    if (!s.ok() && s.code() != Status::Code::kNotFound) {
      warnings->push_back("pack '" + mf.name + "': member '" + e.name +
                          "' counted live, its lookup failed: " + s.ToString());
      live = true;
    }
    const std::uint64_t begin = std::max(e.offset, covered), end = e.offset + e.length;
    if (begin > e.offset)
      warnings->push_back("pack '" + mf.name + "': member '" + e.name +
                          "' overlaps an earlier member; its shared bytes are counted once");
    live ? ++split->live_members : ++split->dead_members;
    if (begin >= end) continue;
    (live ? split->live_bytes : split->dead_bytes) += end - begin;
    AddRangeByChunk(g, begin, end, live ? &split->live : &split->dead);
    covered = std::max(covered, end);
  }
  return Status::Ok();
}

}  // namespace fls::internal
