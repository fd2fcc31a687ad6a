// The two halves of FindMember (fls/pack.h) and a cache of packs, for
// callers that look up many names of few packs (ArchiveSmallFiles,
// WalkMembers: one pack lookup per pack, not per file).
// Thread-safety: free functions (the Store is thread-safe); PackCache is
// thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "fls/pack.h"

namespace fls::internal {

// Packs' catalogue entries by pack name, for callers that check many
// members of few packs: each pack's manifest is read once, not once per
// member. Holds at most `max_packs` entries (then it starts over), so that
// a walk of a store with very many packs stays in bounded memory.
// Thread-safe.
class PackCache {
 public:
  explicit PackCache(const Store& store, std::size_t max_packs = 4096)
      : store_(store), max_packs_(max_packs) {}

  // The pack's catalogue entry, or nullptr when it cannot be found (then
  // CheckMemberPack looks it up itself and says why).
  std::shared_ptr<const CatalogEntry> Find(const std::string& pack);

 private:
  const Store& store_;
  const std::size_t max_packs_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const CatalogEntry>> packs_;
};

// FindMember (fls/pack.h) through `packs`.
Status FindMemberCached(const Store& store, const std::string& name, PackCache* packs,
                        MemberEntry* entry);

// The member records of `name` only: NotFound when there is none,
// Corruption when every copy found is unreadable.
Status ReadMemberRecords(const Store& store, const std::string& name, MemberEntry* entry);

// Checks entry->member against its pack (`known_pack`, the pack's catalogue
// entry when the caller has it; else looked up) and fills entry->pack.
// NotFound ("an orphan member record") when the pack is gone or has
// another id.
Status CheckMemberPack(const Store& store, const CatalogEntry* known_pack, MemberEntry* entry);

// The index of the pack `pack` (read from its last stripes like a restore
// --range: CRCs checked, lost blocks rebuilt), every entry's pack_id
// filled; `recorded` as ParsePackTail sets it. `backend` (optional) codes
// the read; `index_bytes` (optional) gets the index's size with its
// trailer.
Status ReadPackIndex(const Store& store, const CatalogEntry& pack, std::vector<PackEntry>* entries,
                     bool* recorded, Backend* backend = nullptr,
                     std::uint64_t* index_bytes = nullptr);

}  // namespace fls::internal
