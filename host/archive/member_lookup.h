// The two halves of FindMember (fls/pack.h), for callers that look up many
// names of few packs (ArchiveSmallFiles: one pack lookup per pack, not per
// file).
// Thread-safety: free functions (the Store is thread-safe).
#pragma once

#include <string>

#include "fls/pack.h"

namespace fls::internal {

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
