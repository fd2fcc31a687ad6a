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
//
// A pack written before member records (index fls-pack/1) gets its files'
// records from `fls upgrade`, so there a file without any record (and no
// object of its name) is not known to be dead: it may never have been
// recorded. Such a pack is examined only when every file of it has a record
// or a tombstone, or an object of its name (*accounted); it is then
// rewritten whatever its dead share, so that its files land in an fls-pack/2
// pack, whose files can be deleted (FORMAT.md, section 8).
Status Examine(const Store& store, PackState* p, bool* recorded, bool* accounted) {
  std::vector<PackEntry> index;
  FLS_RETURN_IF_ERROR(internal::ReadPackIndex(store, p->entry, &index, recorded));
  *accounted = true;
  for (const PackEntry& e : index) {
    CatalogEntry object;
    MemberEntry me;
    // A name whose manifests or records cannot be read is neither live nor
    // dead: the pack waits (its bytes may be all that is left of the file).
    const Status os = store.FindObject(e.name, &object);
    if (!os.ok() && os.code() != Status::Code::kNotFound)
      return os.WithContext("cannot tell whether '" + e.name + "' is live");
    const bool no_object = os.code() == Status::Code::kNotFound;
    const Status rs = no_object ? internal::ReadMemberRecords(store, e.name, &me) : Status::Ok();
    if (!rs.ok() && rs.code() != Status::Code::kNotFound)
      return rs.WithContext("cannot tell whether '" + e.name + "' is live");
    if (no_object && !rs.ok() && !me.deleted && me.tombstone_copies.empty()) {
      *accounted = false;  // no record at all: dead only where records are complete
      if (!*recorded) return Status::Ok();
    }
    const bool live =
        no_object && rs.ok() && me.member.pack_id == e.pack_id && me.member.offset == e.offset;
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

// A live file to move, and the pack it is in now.
struct Move {
  PackEntry entry;
  std::size_t from;  // index into the chosen packs
};

// Moves `moves` (files of the packs in `from`) into one new pack; each
// file whose record now names the new pack is marked in `moved`.
void MoveGroup(const Store& store, const CompactOptions& o, const std::vector<PackState>& from,
               const std::vector<Move>& moves, std::vector<bool>* moved, CompactReport* report) {
  std::vector<PackInput> inputs;
  std::map<std::string, const PackEntry*> by_name;
  for (const Move& m : moves) {
    inputs.push_back({m.entry.name, m.entry.name, m.entry.length, m.entry.retain_until_ns});
    by_name[m.entry.name] = &m.entry;
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
    *file = std::make_unique<MemoryFile>(e.pack + ":" + name, std::move(data));
    return Status::Ok();
  };
  // The new pack keeps the old packs' code shape (the first one's).
  const Manifest& shape = from[moves.front().from].entry.manifest;
  ArchiveOptions a = o.archive;
  a.k = shape.k;
  a.m = shape.m;
  a.matrix = shape.matrix;
  std::vector<PackedItem> items;
  internal::ArchiveOnePack(store, open, inputs, a, o.pack, &items);
  for (std::size_t i = 0; i < items.size(); ++i) {
    const Move& m = moves[i];
    if (!items[i].status.ok()) {
      report->failures.push_back("moving '" + m.entry.name + "' out of " + m.entry.pack + ": " +
                                 items[i].status.ToString());
      continue;
    }
    RemoveOldRecordCopies(store, m.entry.name, m.entry.pack_id);
    (*moved)[i] = true;
    ++report->files_moved;
    report->bytes_moved += m.entry.length;
  }
}

// Deletes an old pack that no record names any more.
void DeleteOldPack(const Store& store, const PackState& p, CompactReport* report) {
  DeleteResult r;
  Status s = internal::DeleteObjectEntry(store, p.entry, NowNs(), &r);
  if (!s.ok()) {
    report->failures.push_back("deleting the old pack " + p.entry.manifest.name + ": " +
                               s.ToString());
    return;
  }
  report->dead_bytes_reclaimed += p.dead_bytes;
  for (auto& w : r.warnings) report->warnings.push_back(std::move(w));
}

// Examines pack `name`: one with no live file is deleted at once, one dead
// enough goes to `chosen`.
void ExamineOne(const Store& store, const CompactOptions& o, const std::string& name,
                std::vector<PackState>* chosen, CompactReport* report) {
  PackState p;
  Status s = store.FindObject(name, &p.entry);
  if (!s.ok()) return;  // gone meanwhile, or reported by verify
  FileInfo info;
  if (!p.entry.copies.empty() && store.env()->GetFileInfo(p.entry.copies[0], &info).ok() &&
      NowNs() - info.mtime_ns < o.min_age_ns) {
    ++report->packs_too_young;
    return;
  }
  ++report->packs;
  bool recorded = false, accounted = false;
  s = Examine(store, &p, &recorded, &accounted);
  if (!s.ok()) {
    report->failures.push_back(name + ": " + s.ToString());
    return;
  }
  if (!recorded && !accounted) {
    report->warnings.push_back(name +
                               " was written before member records and some of its files have "
                               "none: run `fls upgrade`");
    return;
  }
  report->live_bytes += p.live_bytes;
  report->dead_bytes += p.dead_bytes;
  const std::uint64_t total = p.live_bytes + p.dead_bytes;
  if (p.live.empty()) {
    ++report->packs_removed;
    DeleteOldPack(store, p, report);
  } else if ((!recorded && o.rewrite_pre_record_packs) ||
             (total > 0 &&
              static_cast<double>(p.dead_bytes) >= o.min_dead * static_cast<double>(total))) {
    chosen->push_back(std::move(p));
  }
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
  std::vector<PackState> chosen;
  for (const std::string& name : packs) ExamineOne(store, o, name, &chosen, report);
  // The live files of every chosen pack, regrouped into full new packs (a
  // store of half-empty packs becomes one of fewer, fuller ones).
  std::vector<std::size_t> left(chosen.size());
  std::vector<std::vector<Move>> groups(1);
  std::uint64_t group_bytes = 0;
  for (std::size_t i = 0; i < chosen.size(); ++i)
    for (const PackEntry& e : chosen[i].live) {
      if (!groups.back().empty() &&
          (group_bytes + e.length > o.pack.max_bytes || groups.back().size() >= o.pack.max_files)) {
        groups.emplace_back();
        group_bytes = 0;
      }
      groups.back().push_back({e, i});
      group_bytes += e.length;
      ++left[i];
    }
  for (const std::vector<Move>& g : groups) {
    if (g.empty()) continue;
    std::vector<bool> moved(g.size(), false);
    MoveGroup(store, o, chosen, g, &moved, report);
    for (std::size_t j = 0; j < g.size(); ++j)
      if (moved[j]) --left[g[j].from];
  }
  // An old pack goes once every live file of it moved; one with a file left
  // (its move failed) stays for that file.
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    if (left[i] != 0) continue;
    ++report->packs_rewritten;
    DeleteOldPack(store, chosen[i], report);
  }
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
