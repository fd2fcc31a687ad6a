// Member lookups through a pack's catalogue entry: CheckMemberPack, and the
// PackCache that lets many members of one pack share one read of its
// manifest (member_lookup.h).
#include "member_lookup.h"

namespace fls::internal {

Status CheckMemberPack(const Store& store, const CatalogEntry* known_pack, MemberEntry* entry) {
  Status s;
  if (known_pack != nullptr)
    entry->pack = *known_pack;
  else
    s = store.FindObject(entry->member.pack, &entry->pack);
  const Manifest& mf = entry->pack.manifest;
  if (s.ok() && ObjectIdToHex(mf.id) != entry->member.pack_id)
    s = Status::NotFound("its pack now has the id " + ObjectIdToHex(mf.id) + ", the record names " +
                         entry->member.pack_id);
  if (s.ok() &&
      (entry->member.offset > mf.size || entry->member.length > mf.size - entry->member.offset))
    s = Status::Corruption("its range lies outside the pack's " + std::to_string(mf.size) +
                           " bytes");
  if (s.ok()) return s;
  const std::string why = "packed file '" + entry->member.name + "' is recorded in " +
                          entry->member.pack +
                          ", which cannot be used (an orphan member record): " + s.ToString();
  return s.code() == Status::Code::kNotFound ? Status::NotFound(why) : Status::Corruption(why);
}

std::shared_ptr<const CatalogEntry> PackCache::Find(const std::string& pack) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = packs_.find(pack);
    if (it != packs_.end()) return it->second;
  }
  // Looked up outside the lock: two threads may both read one pack once.
  auto entry = std::make_shared<CatalogEntry>();
  if (!store_.FindObject(pack, entry.get()).ok()) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  if (packs_.size() >= max_packs_) packs_.clear();
  return packs_.emplace(pack, std::move(entry)).first->second;
}

Status FindMemberCached(const Store& store, const std::string& name, PackCache* packs,
                        MemberEntry* entry) {
  MemberEntry out;
  Status s = ReadMemberRecords(store, name, &out);
  if (s.ok()) {
    const std::shared_ptr<const CatalogEntry> pack =
        packs != nullptr ? packs->Find(out.member.pack) : nullptr;
    s = CheckMemberPack(store, pack.get(), &out);
  }
  // Also on failure: a deleted member's tombstones, an orphan's problems.
  *entry = std::move(out);
  return s;
}

}  // namespace fls::internal
