// Deleting objects and packed files, and finishing interrupted deletes
// (fls/delete.h).
#include "fls/delete.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "fls/pack.h"
#include "fls/time_text.h"
#include "maintenance_lock.h"
#include "manifest_commit.h"
#include "member_lookup.h"
#include "target_identity.h"

namespace fls {

namespace internal {

bool RemoveIfStill(Env* env, const std::string& path,
                   const std::function<bool(const std::string& text)>& still) {
  const std::string away = TempPathFor(path);
  if (!env->RenameFile(path, away).ok()) return false;
  std::string text;
  Status s = ReadWholeFile(env, away, &text, 1 << 20);
  if (s.ok() && still(text) && env->RemoveFile(away).ok()) return true;
  env->RenameFile(away, path);
  return false;
}

}  // namespace internal

namespace {

using internal::RemoveIfStill;

// A target whose directory is there but whose identity file is not (an
// unmounted disk's empty mount point) may hold copies that a tombstone must
// keep outranking: tombstones are removed only when every target answers.
bool EveryTargetAnswers(const Store& store, std::vector<std::string>* warnings) {
  bool all = true;
  for (const Target& t : store.targets()) {
    FileInfo info;
    Status s = store.env()->GetFileInfo(JoinPath(t.path, internal::kTargetIdentityFile), &info);
    if (!s.ok()) {
      all = false;
      warnings->push_back("target " + t.path + " cannot be read (" + s.ToString() +
                          "): tombstones stay until it is back");
    }
  }
  return all;
}

// Removes every chunk file object `id` (k + m chunks) may have left on any
// target, leftovers of interrupted repairs included. False when a target
// could not be cleaned.
bool RemoveChunkFiles(const Store& store, const ObjectId& id, int shards, DeleteResult* r) {
  bool all = true;
  for (const Target& t : store.targets()) {
    bool removed = false;
    for (int i = 0; i < shards; ++i) {
      const std::string path = JoinPath(t.path, ChunkFileName(id, i));
      Status s = store.env()->RemoveFile(path);
      if (s.ok()) {
        removed = true;
        ++r->files_removed;
      } else if (s.code() != Status::Code::kNotFound) {
        all = false;
        r->warnings.push_back("cannot remove " + path + ": " + s.ToString());
      }
    }
    if (removed) {
      Status s = store.env()->SyncDir(t.path);
      if (!s.ok()) r->warnings.push_back("fsync of " + t.path + ": " + s.ToString());
    }
  }
  return all;
}

// Removes each tombstone copy in `paths` that `is_tombstone` still accepts
// (RemoveIfStill), then fsyncs their directories. True when all went.
bool RemoveTombstones(Env* env, const std::vector<std::string>& paths, DeleteResult* r,
                      const std::function<bool(const std::string& text)>& is_tombstone) {
  std::set<std::string> dirs;
  bool all = true;
  for (const std::string& p : paths) {
    if (RemoveIfStill(env, p, is_tombstone)) {
      dirs.insert(DirName(p));
      ++r->files_removed;
    } else {
      all = false;
    }
  }
  for (const std::string& d : dirs) env->SyncDir(d);
  return all;
}

// After the tombstone `tomb` committed: the chunk files go, then (every
// target answering) every manifest file of the name.
void FinishObject(const Store& store, const Manifest& tomb, DeleteResult* r) {
  Env* env = store.env();
  const bool chunks_gone = RemoveChunkFiles(store, tomb.id, tomb.k + tomb.m, r);
  if (!chunks_gone || !EveryTargetAnswers(store, &r->warnings)) return;
  CatalogEntry now;
  Status s = store.FindObject(tomb.name, &now);
  // Archived again meanwhile (its commit replaces or removes the tombstone
  // copies itself), or damaged copies to be looked at: leave it.
  if (s.code() != Status::Code::kNotFound || !now.manifest.tombstone || now.manifest.id != tomb.id)
    return;
  internal::RemoveSupersededCopies(env, now, now.copies);
  for (const auto& list : {now.stale_copies, now.bad_copies})
    for (const std::string& p : list) {
      FileInfo info;
      if (env->GetFileInfo(p, &info).code() != Status::Code::kNotFound) {
        r->warnings.push_back("cannot remove the older manifest copy " + p +
                              ": the tombstone stays");
        return;
      }
    }
  r->finished = RemoveTombstones(env, now.copies, r, [&](const std::string& text) {
    Manifest m;
    return DecodeManifest(text, &m).ok() && m.tombstone && m.id == tomb.id;
  });
}

// Writes `text` over each of `paths`: temporaries written and fsynced first
// (a failure there changes nothing), then renamed, then each directory
// fsynced. `renamed` counts the copies replaced.
Status ReplaceCopies(Env* env, const std::vector<std::string>& paths, const std::string& text,
                     std::size_t* renamed) {
  *renamed = 0;
  std::vector<std::string> tmps;
  Status s;
  for (const std::string& p : paths) {
    tmps.push_back(TempPathFor(p));
    std::unique_ptr<WritableFile> f;
    s = env->NewWritableFile(tmps.back(), &f);
    if (s.ok()) s = f->Append(text.data(), text.size());
    if (s.ok()) s = f->Sync();
    if (s.ok()) s = f->Close();
    if (!s.ok()) {
      s = s.WithContext(p);
      break;
    }
  }
  for (std::size_t i = 0; s.ok() && i < paths.size(); ++i) {
    s = env->RenameFile(tmps[i], paths[i]).WithContext(paths[i]);
    if (s.ok()) ++*renamed;
  }
  for (std::size_t i = *renamed; i < tmps.size(); ++i) env->RemoveFile(tmps[i]);
  std::set<std::string> dirs;
  for (std::size_t i = 0; i < *renamed; ++i) dirs.insert(DirName(paths[i]));
  for (const std::string& d : dirs) {
    Status ds = env->SyncDir(d);
    if (s.ok() && !ds.ok()) s = ds.WithContext(d);
  }
  return s;
}

// A deleted member whose tombstones are committed: record copies of the
// deleted incarnation that a crash left are tombstoned too, then (every
// target answering) the tombstones go.
void FinishMember(const Store& store, const std::string& name, DeleteResult* r) {
  Env* env = store.env();
  MemberEntry me;
  internal::ReadMemberRecords(store, name, &me);
  if (me.deleted && !me.copies.empty()) {
    // A live copy of the deleted incarnation: finish the commit first.
    MemberTombstone t{name, me.member.pack_id, me.member.offset, me.deleted_ns};
    std::size_t renamed = 0;
    Status s = ReplaceCopies(env, me.copies, EncodeMemberTombstone(t), &renamed);
    if (!s.ok()) {
      r->warnings.push_back("tombstoning the record copies of '" + name + "': " + s.ToString());
      return;
    }
    internal::ReadMemberRecords(store, name, &me);
    if (!me.copies.empty()) return;
  }
  if (!EveryTargetAnswers(store, &r->warnings)) return;
  const bool all = RemoveTombstones(env, me.tombstone_copies, r, [&](const std::string& text) {
    MemberTombstone t;
    return DecodeMemberTombstone(text, &t).ok() && t.name == name;
  });
  r->finished = all && (me.deleted || !me.copies.empty());
}

Status DeleteMember(const Store& store, const MemberEntry& me, std::int64_t now_ns,
                    DeleteResult* r) {
  MemberTombstone t{me.member.name, me.member.pack_id, me.member.offset, now_ns};
  std::size_t renamed = 0;
  Status s = ReplaceCopies(store.env(), me.copies, EncodeMemberTombstone(t), &renamed);
  if (renamed == 0) return s.WithContext("deleting packed file '" + me.member.name + "'");
  // Committed: the first renamed tombstone outranks the record.
  if (!s.ok()) r->warnings.push_back(s.ToString() + " (the delete is committed; a sweep finishes)");
  FinishMember(store, me.member.name, r);
  return Status::Ok();
}

Status CheckRetention(const std::string& name, std::int64_t retain_until_ns, const DeleteOptions& o,
                      std::int64_t now, DeleteResult* r) {
  r->retain_until_ns = retain_until_ns;
  if (retain_until_ns == 0 || now >= retain_until_ns) return Status::Ok();
  r->retained = true;
  if (!o.override_retention)
    return Status::InvalidArgument("'" + name + "' is retained until " +
                                   FormatTimeNs(retain_until_ns) +
                                   ": not deleted (--override-retention deletes it anyway)");
  r->retention_overridden = true;
  return Status::Ok();
}

// A pack written before member records (index fls-pack/1) got its files'
// records from `fls upgrade`, which gives a record to every file of such a
// pack that has none: a file deleted from it would come back at the next
// upgrade. So its files are refused until compaction can rewrite such packs.
Status CheckPackRecorded(const Store& store, const MemberEntry& me,
                         std::map<std::string, bool>* recorded_packs) {
  const std::string& id = me.member.pack_id;
  bool recorded = false;
  if (recorded_packs != nullptr && recorded_packs->count(id) != 0) {
    recorded = recorded_packs->at(id);
  } else {
    std::vector<PackEntry> index;
    FLS_RETURN_IF_ERROR(internal::ReadPackIndex(store, me.pack, &index, &recorded)
                            .WithContext("reading the index of " + me.member.pack));
    if (recorded_packs != nullptr) (*recorded_packs)[id] = recorded;
  }
  if (recorded) return Status::Ok();
  return Status::InvalidArgument(
      "'" + me.member.name + "' is packed in " + me.member.pack +
      ", a pack written before member records (index fls-pack/1): its files cannot be deleted, "
      "because `fls upgrade` would give a deleted one its record back (docs/FORMAT.md, section 8)");
}

}  // namespace

namespace internal {

Status DeleteObjectEntry(const Store& store, const CatalogEntry& entry, std::int64_t now_ns,
                         DeleteResult* r) {
  const Manifest& old = entry.manifest;
  Manifest t;
  t.tombstone = true;
  t.name = old.name;
  t.id = old.id;
  t.k = old.k;
  t.m = old.m;
  t.deleted_ns = now_ns;
  t.generation = std::max(old.generation, entry.max_generation) + 1;
  ChooseManifestTargets(store, &t);
  if (t.manifest_targets.empty())
    return Status::IOError("no target directory is left to hold the tombstone of '" + t.name + "'");
  FLS_RETURN_IF_ERROR(ValidateManifest(t));
  std::vector<std::string> written;
  // A failed commit puts back what the copies held: a version 3 object's
  // text; a path-addressed object had nothing at these names.
  const std::string previous = IsPathAddressedManifest(old.format_version) || old.tombstone
                                   ? std::string()
                                   : EncodeManifest(old);
  FLS_RETURN_IF_ERROR(
      CommitManifest(store.env(), t, &written, previous).WithContext("deleting '" + t.name + "'"));
  // Committed. Older copies elsewhere go now; a crash here leaves them
  // outranked by the tombstone.
  RemoveSupersededCopies(store.env(), entry, written);
  FinishObject(store, t, r);
  return Status::Ok();
}

Status DeleteName(const Store& store, const std::string& name, const DeleteOptions& o,
                  DeleteResult* r, std::map<std::string, bool>* recorded_packs) {
  *r = DeleteResult();
  r->name = name;
  if (IsPackName(name))
    return Status::InvalidArgument("'" + name +
                                   "' is a pack of small files: `fls compact` removes packs once "
                                   "their files are deleted");
  const std::int64_t now = o.now_ns != 0 ? o.now_ns : NowNs();
  CatalogEntry object;
  Status s = store.FindObject(name, &object);
  if (s.ok()) {
    r->existed = true;
    r->size = object.manifest.size;
    FLS_RETURN_IF_ERROR(CheckRetention(name, object.manifest.retain_until_ns, o, now, r));
    return DeleteObjectEntry(store, object, now, r);
  }
  if (s.code() != Status::Code::kNotFound) return s;
  MemberEntry me;
  Status ms = FindMember(store, name, &me);
  if (ms.ok()) {
    r->existed = r->member = true;
    r->pack = me.member.pack;
    r->size = me.member.length;
    FLS_RETURN_IF_ERROR(CheckRetention(name, me.member.retain_until_ns, o, now, r));
    FLS_RETURN_IF_ERROR(CheckPackRecorded(store, me, recorded_packs));
    return DeleteMember(store, me, now, r);
  }
  if (ms.code() != Status::Code::kNotFound) return ms;
  // Not there. A tombstone left by an interrupted delete is finished now.
  if (object.manifest.tombstone) FinishObject(store, object.manifest, r);
  if (me.deleted) FinishMember(store, name, r);
  if (o.force) return Status::Ok();
  return me.deleted ? ms : s;
}

}  // namespace internal

Status DeleteNames(
    const Store& store, const std::vector<std::string>& names, const DeleteOptions& options,
    int lock_wait_ms,
    const std::function<void(std::size_t, const Status&, const DeleteResult&)>& on_result) {
  FLS_RETURN_IF_ERROR(store.Join());
  std::unique_ptr<internal::MaintenanceLock> lock;
  FLS_RETURN_IF_ERROR(internal::AcquireMaintenanceLock(store, "delete", lock_wait_ms, &lock));
  std::map<std::string, bool> recorded_packs;  // by pack id: read each pack's index once
  for (std::size_t i = 0; i < names.size(); ++i) {
    DeleteResult r;
    Status s = ValidateObjectName(names[i]);
    if (s.ok()) s = internal::DeleteName(store, names[i], options, &r, &recorded_packs);
    if (r.name.empty()) r.name = names[i];
    on_result(i, s, r);
  }
  return Status::Ok();
}

void FinishDeletions(const Store& store, FinishReport* report) {
  *report = FinishReport();
  CatalogWalk walk;
  store.WalkCatalog([](CatalogEntry&) { return true; }, &walk);
  for (const CatalogEntry& e : walk.tombstones) {
    ++report->objects;
    DeleteResult r;
    FinishObject(store, e.manifest, &r);
    report->files_removed += r.files_removed;
    report->finished += r.finished ? 1 : 0;
    for (auto& w : r.warnings) report->warnings.push_back(std::move(w));
  }
  std::vector<std::string> names;
  WalkMembers(
      store, [](MemberEntry&) { return true; }, nullptr,
      [&](MemberEntry& me) { names.push_back(me.member.name); });
  for (const std::string& name : names) {
    ++report->members;
    DeleteResult r;
    FinishMember(store, name, &r);
    report->files_removed += r.files_removed;
    report->finished += r.finished ? 1 : 0;
    for (auto& w : r.warnings) report->warnings.push_back(std::move(w));
  }
}

}  // namespace fls
