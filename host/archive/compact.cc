// Pack compaction (fls/compact.h).
#include "fls/compact.h"

#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "fls/delete.h"
#include "fls/time_text.h"
#include "maintenance_lock.h"
#include "member_lookup.h"
#include "pack_write.h"

namespace fls {
namespace {

// A packed file's bytes, read and SHA-256-checked before the new pack needs
// them: packed files are small (below the small-file threshold), and one
// is held at a time.
class MemoryFile : public RandomAccessFile {
 public:
  MemoryFile(std::string path, std::string data) : path_(std::move(path)), data_(std::move(data)) {}
  Status Read(std::uint64_t offset, std::size_t n, void* buf, std::size_t* read) const override {
    *read = 0;
    if (offset >= data_.size()) return Status::Ok();
    *read = std::min<std::size_t>(n, data_.size() - offset);
    std::memcpy(buf, data_.data() + offset, *read);
    return Status::Ok();
  }
  const std::string& path() const override { return path_; }

 private:
  std::string path_, data_;
};

struct PackState {
  CatalogEntry entry;
  std::vector<PackEntry> live;  // as their records have them (retention included)
  std::uint64_t live_bytes = 0, dead_bytes = 0;
};

// Which of the pack's files still resolve to it: a name resolves to the
// pack when no object of that name exists and a record of it, not killed by
// a tombstone, names this pack's id and offset (what LocateName finds).
Status Examine(const Store& store, PackState* p, bool* recorded) {
  std::vector<PackEntry> index;
  FLS_RETURN_IF_ERROR(internal::ReadPackIndex(store, p->entry, &index, recorded));
  if (!*recorded) return Status::Ok();
  for (const PackEntry& e : index) {
    CatalogEntry object;
    MemberEntry me;
    const bool live = store.FindObject(e.name, &object).code() == Status::Code::kNotFound &&
                      internal::ReadMemberRecords(store, e.name, &me).ok() &&
                      me.member.pack_id == e.pack_id && me.member.offset == e.offset;
    if (live) {
      p->live.push_back(me.member);
      p->live_bytes += e.length;
    } else {
      p->dead_bytes += e.length;
    }
  }
  return Status::Ok();
}

// Record copies of `name` that still name the old pack after the move (on
// targets the new records did not overwrite: the store's targets changed).
void RemoveOldRecordCopies(const Store& store, const std::string& name,
                           const std::string& old_pack_id) {
  auto names_old = [&](const std::string& text) {
    PackEntry e;
    return DecodeMemberRecord(text, &e).ok() && e.name == name && e.pack_id == old_pack_id;
  };
  for (const Target& t : store.targets()) {
    const std::string path = JoinPath(t.path, MemberRecordFileName(name));
    std::string text;
    if (!ReadWholeFile(store.env(), path, &text, 64 << 10).ok() || !names_old(text)) continue;
    if (internal::RemoveIfStill(store.env(), path, names_old)) store.env()->SyncDir(t.path);
  }
}

// Moves the live files of `p` into a new pack; true when every one moved
// (then no record names the old pack any more).
bool Rewrite(const Store& store, const CompactOptions& o, const PackState& p,
             CompactReport* report) {
  std::vector<PackInput> inputs;
  std::map<std::string, const PackEntry*> by_name;
  for (const PackEntry& e : p.live) {
    inputs.push_back({e.name, e.name, e.length, e.retain_until_ns});
    by_name[e.name] = &e;
  }
  OpenSourceFn open = [&](const std::string& name, std::unique_ptr<RandomAccessFile>* file,
                          FileInfo* info) {
    const PackEntry& e = *by_name.at(name);
    std::string data;
    RestoreOptions ro;
    ro.backend = o.archive.backend;
    ro.threads = 1;
    FLS_RETURN_IF_ERROR(ReadObject(
        store, name, ro,
        [&](const std::uint8_t* d, std::size_t n) {
          data.append(reinterpret_cast<const char*>(d), n);
          return Status::Ok();
        },
        nullptr));
    info->size = data.size();
    info->mode = e.mode;
    info->mtime_ns = e.mtime_ns;
    *file = std::make_unique<MemoryFile>(p.entry.manifest.name + ":" + name, std::move(data));
    return Status::Ok();
  };
  // The new pack keeps the old one's code shape.
  ArchiveOptions a = o.archive;
  a.k = p.entry.manifest.k;
  a.m = p.entry.manifest.m;
  a.matrix = p.entry.manifest.matrix;
  std::vector<PackedItem> items;
  internal::ArchiveOnePack(store, open, inputs, a, o.pack, &items);
  bool all = true;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!items[i].status.ok()) {
      all = false;
      report->failures.push_back("moving '" + inputs[i].name + "' out of " + p.entry.manifest.name +
                                 ": " + items[i].status.ToString());
      continue;
    }
    RemoveOldRecordCopies(store, inputs[i].name, ObjectIdToHex(p.entry.manifest.id));
    ++report->files_moved;
    report->bytes_moved += inputs[i].size;
  }
  return all;
}

void CompactOne(const Store& store, const CompactOptions& o, const std::string& name,
                CompactReport* report) {
  PackState p;
  Status s = store.FindObject(name, &p.entry);
  if (!s.ok()) return;  // gone meanwhile, or reported by verify
  FileInfo info;
  const std::int64_t now = NowNs();
  if (!p.entry.copies.empty() && store.env()->GetFileInfo(p.entry.copies[0], &info).ok() &&
      now - info.mtime_ns < o.min_age_ns) {
    ++report->packs_too_young;
    return;
  }
  ++report->packs;
  bool recorded = false;
  s = Examine(store, &p, &recorded);
  if (!s.ok()) {
    report->failures.push_back(name + ": " + s.ToString());
    return;
  }
  if (!recorded) {
    report->warnings.push_back(name + " was written before member records: run `fls upgrade`");
    return;
  }
  report->live_bytes += p.live_bytes;
  report->dead_bytes += p.dead_bytes;
  const std::uint64_t total = p.live_bytes + p.dead_bytes;
  const bool dead_enough =
      p.live.empty() ||
      (total > 0 && static_cast<double>(p.dead_bytes) >= o.min_dead * static_cast<double>(total));
  if (!dead_enough) return;
  if (!p.live.empty()) {
    if (!Rewrite(store, o, p, report)) return;  // the old pack stays for the files left in it
    ++report->packs_rewritten;
  } else {
    ++report->packs_removed;
  }
  DeleteResult r;
  s = internal::DeleteObjectEntry(store, p.entry, now, &r);
  if (!s.ok()) {
    report->failures.push_back("deleting the old pack " + name + ": " + s.ToString());
    return;
  }
  report->dead_bytes_reclaimed += p.dead_bytes;
  for (auto& w : r.warnings) report->warnings.push_back(std::move(w));
}

}  // namespace

namespace internal {

void CompactPacks(const Store& store, const CompactOptions& o, CompactReport* report) {
  std::vector<std::string> packs;
  CatalogWalk walk;
  store.WalkCatalog(
      [&](CatalogEntry& e) {
        if (IsPackName(e.manifest.name)) packs.push_back(e.manifest.name);
        return true;
      },
      &walk);
  for (const std::string& w : walk.warnings) report->warnings.push_back(w);
  for (const std::string& name : packs) CompactOne(store, o, name, report);
}

}  // namespace internal

Status CompactStore(const Store& store, const CompactOptions& o, CompactReport* report) {
  *report = CompactReport();
  if (!(o.min_dead >= 0 && o.min_dead <= 1))
    return Status::InvalidArgument("--min-dead must be between 0 and 100 %");
  FLS_RETURN_IF_ERROR(store.Join());
  std::unique_ptr<internal::MaintenanceLock> lock;
  FLS_RETURN_IF_ERROR(internal::AcquireMaintenanceLock(store, "compaction", o.lock_wait_ms, &lock));
  internal::CompactPacks(store, o, report);
  return Status::Ok();
}

}  // namespace fls
