// UpgradeStore (fls/upgrade.h).
#include "fls/upgrade.h"

#include "fls/pack.h"

#include <cstdlib>
#include <map>
#include <set>

#include "fls/archive.h"
#include "fls/sha256.h"
#include "maintenance_lock.h"
#include "manifest_commit.h"
#include "target_identity.h"

namespace fls {
namespace {

constexpr std::uint64_t kMaxManifestBytes = 1 << 20;

// Path-addressed manifest files on the targets, by object id.
using V1Files = std::map<ObjectId, std::vector<std::string>>;

V1Files ListV1Files(const Store& store, std::vector<std::string>* warnings) {
  V1Files out;
  for (const Target& t : store.targets()) {
    Status s = store.env()->ForEachChild(t.path, [&](std::string_view n) {
      ObjectId id;
      std::uint64_t generation = 0;
      if (ParseManifestFileName(n, &id, &generation))
        out[id].push_back(JoinPath(t.path, std::string(n)));
      return true;
    });
    if (!s.ok() && s.code() != Status::Code::kNotFound)
      warnings->push_back("target " + t.path + " unreadable: " + s.message());
  }
  return out;
}

// Bytes of the chunk and manifest files (any version) on the targets.
std::uint64_t StoreBytes(const Store& store) {
  std::uint64_t total = 0;
  for (const Target& t : store.targets()) {
    store.env()->ForEachChild(t.path, [&](std::string_view n) {
      ObjectId id;
      std::uint64_t generation = 0;
      int index = 0;
      std::string hash;
      FileInfo info;
      if ((ParseChunkFileName(n, &id, &index) || ParseManifestFileName(n, &id, &generation) ||
           ParseNameManifestFileName(n, &hash)) &&
          store.env()->GetFileInfo(JoinPath(t.path, std::string(n)), &info).ok())
        total += info.size;
      return true;
    });
  }
  return total;
}

// The first copy among `paths` that decodes as a path-addressed manifest of
// object `id` (which generation does not matter: every copy names the
// object's name and shape).
Status ReadAnyV1Copy(Env* env, const ObjectId& id, const std::vector<std::string>& paths,
                     Manifest* m) {
  std::string problems;
  for (const std::string& path : paths) {
    std::unique_ptr<RandomAccessFile> f;
    FileInfo info;
    Status s = env->NewRandomAccessFileNoFollow(path, &f, &info);
    std::string text;
    if (s.ok() && info.size > kMaxManifestBytes)
      s = Status::Corruption(std::to_string(info.size) + " bytes, more than a manifest can be");
    if (s.ok()) {
      text.resize(info.size);
      std::size_t got = 0;
      s = f->Read(0, text.size(), text.data(), &got);
      text.resize(got);
    }
    if (s.ok()) s = DecodeManifest(text, m);
    if (s.ok() && (!IsPathAddressedManifest(m->format_version) || m->id != id))
      s = Status::Corruption("names object " + ObjectIdToHex(m->id) + " version " +
                             std::to_string(m->format_version) + ", not what its file name says");
    if (s.ok()) return s;
    problems += "; " + path + ": " + s.message();
  }
  return Status::Corruption("no manifest copy of object " + ObjectIdToHex(id) + " can be read" +
                            problems);
}

// Two chunks of the object on one target: the archive had to share targets,
// and its upgrade may too.
bool SharesTargets(const Manifest& m) {
  std::set<std::string> seen;
  for (const ManifestChunk& c : m.chunks)
    if (!seen.insert(c.target).second) return true;
  return false;
}

class UpgradeRun {
 public:
  UpgradeRun(const Store& store, const UpgradeOptions& opt, std::string scratch,
             UpgradeReport* report)
      : store_(store),
        env_(store.env()),
        opt_(opt),
        scratch_(std::move(scratch)),
        prefix_("fls-upgrade-" + store.store_id() + "-"),
        report_(report) {}

  void RemoveOldScratchFiles();
  // Upgrades each path-addressed object the catalogue walk meets.
  void UpgradeAll();
  void RemoveLeftovers();
  void ClearV1Flags();

 private:
  Status UpgradeOne(const CatalogEntry& old);
  Status ArchiveScratch(const Manifest& old, const std::string& scratch, const ObjectId& new_id);
  void RemoveOldObject(const CatalogEntry& old);
  Status CompleteCommit(const CatalogEntry& e);
  // Chunk files 0 .. n-1 of `id` on any target (a rebalance or repair may
  // have left a second copy of one).
  std::vector<std::string> ChunkFilesOf(const ObjectId& id, int n) const;
  // Removes the files that exist, then fsyncs their directories.
  void RemoveFiles(const std::vector<std::string>& paths);
  void Fail(const std::string& name, const Status& s) {
    report_->failures.push_back({name, s});
    failed_.insert(name);
  }

  const Store& store_;
  Env* env_;
  const UpgradeOptions& opt_;
  const std::string scratch_;
  const std::string prefix_;  // of this store's scratch files
  UpgradeReport* report_;
  std::set<std::string> failed_;
};

void UpgradeRun::RemoveOldScratchFiles() {
  // Under the maintenance lock no other upgrade of this store is running:
  // scratch files with its prefix (and their temporaries) are a killed
  // run's.
  std::vector<std::string> names;
  if (!env_->GetChildren(scratch_, &names).ok()) return;
  for (const std::string& n : names)
    if (n.rfind(prefix_, 0) == 0 || n.rfind("." + prefix_, 0) == 0)
      env_->RemoveFile(JoinPath(scratch_, n));
}

void UpgradeRun::UpgradeAll() {
  // Each object is upgraded with the entry the walk read: a lookup by name of
  // a path-addressed object lists every target, once per object. The walk
  // listed the targets before its first call; an upgrade adds version 3
  // files and removes only this object's old ones, which it has read.
  CatalogWalk walk;
  store_.WalkCatalog(
      [&](CatalogEntry& e) {
        if (!IsPathAddressedManifest(e.manifest.format_version)) {
          ++report_->already_v3;
          return true;
        }
        Status s = UpgradeOne(e);
        if (!s.ok()) Fail(e.manifest.name, s);
        return true;
      },
      &walk);
  for (std::string& w : walk.warnings) report_->warnings.push_back(std::move(w));
  // Unreadable path-addressed objects become failures in RemoveLeftovers,
  // which lists their manifest files; version 3 ones are not upgrade's.
  for (const UnreadableObject& u : walk.unreadable)
    for (const std::string& p : u.problems) report_->warnings.push_back(p);
}

Status UpgradeRun::UpgradeOne(const CatalogEntry& old) {
  const Manifest& om = old.manifest;
  // The walk shows a path-addressed object only when its name has no version
  // 3 manifest file; archiving skips its own lookup on the strength of this.
  const std::string v3 = NameManifestFileName(om.name);
  for (const Target& t : store_.targets()) {
    FileInfo info;
    if (env_->GetFileInfo(JoinPath(t.path, v3), &info).ok())
      return Status::InvalidArgument("a version 3 manifest file of its name (" +
                                     JoinPath(t.path, v3) + ") appeared during the run");
  }
  const std::string scratch = JoinPath(scratch_, prefix_ + ObjectIdToHex(om.id));
  RestoreOptions ro;
  ro.output = scratch;
  ro.backend = opt_.backend;
  ro.threads = opt_.threads;
  ro.entry = &old;
  RestoreResult rr;
  FLS_RETURN_IF_ERROR(RestoreObject(store_, om.name, ro, &rr).WithContext("restoring it"));
  for (const std::string& p : rr.problems)
    report_->warnings.push_back("'" + om.name + "' restored around a damaged chunk: " + p);
  Status s = ArchiveScratch(om, scratch, UpgradedObjectId(om.id));
  env_->RemoveFile(scratch);
  FLS_RETURN_IF_ERROR(s);
  // Committed: the name finds the version 3 object from here on.
  RemoveOldObject(old);
  report_->upgraded.push_back(om.name);
  return Status::Ok();
}

Status UpgradeRun::ArchiveScratch(const Manifest& old, const std::string& scratch,
                                  const ObjectId& new_id) {
  // An attempt killed before its commit left these: no manifest names them.
  RemoveFiles(ChunkFilesOf(new_id, old.k + old.m));
  // The restore gave the scratch file the object's mode; it must be readable.
  if ((old.mode & 0400) == 0)
    FLS_RETURN_IF_ERROR(env_->SetFileModeAndTime(scratch, old.mode | 0400, old.mtime_ns));
  std::unique_ptr<RandomAccessFile> src;
  FileInfo info;
  FLS_RETURN_IF_ERROR(env_->NewRandomAccessFileNoFollow(scratch, &src, &info));
  info.mode = old.mode;
  info.mtime_ns = old.mtime_ns;
  ArchiveOptions ao;
  ao.k = old.k;
  ao.m = old.m;
  ao.matrix = old.matrix;
  ao.stripe_width = old.stripe_width;
  ao.name = old.name;
  ao.backend = opt_.backend;
  ao.threads = opt_.threads;
  ao.allow_shared_targets = SharesTargets(old);
  ao.replaces_path_addressed = true;
  ao.object_id = new_id;
  ArchiveResult ar;
  FLS_RETURN_IF_ERROR(
      ArchiveOpenFile(store_, *src, info, ao, &ar).WithContext("archiving it again as version 3"));
  if (ar.unchanged || ar.manifest.id != new_id)
    return Status::Corruption("its name found object " + ObjectIdToHex(ar.manifest.id) +
                              " when archived again, not the upgrade " + ObjectIdToHex(new_id));
  return Status::Ok();
}

void UpgradeRun::RemoveOldObject(const CatalogEntry& old) {
  const Manifest& om = old.manifest;
  // Chunk files first: while any old manifest copy is left, a rerun still
  // knows the object's id and shape, and so which chunk files were its.
  RemoveFiles(ChunkFilesOf(om.id, om.k + om.m));
  std::vector<std::string> manifests;
  for (const auto& list : {old.copies, old.stale_copies, old.bad_copies})
    for (const std::string& p : list) {
      ObjectId id;
      std::uint64_t generation = 0;
      if (ParseManifestFileName(BaseName(p), &id, &generation) && id == om.id)
        manifests.push_back(p);
    }
  RemoveFiles(manifests);
}

void UpgradeRun::RemoveLeftovers() {
  const V1Files files = ListV1Files(store_, &report_->warnings);
  for (const auto& [id, paths] : files) {
    Manifest m;
    Status s = ReadAnyV1Copy(env_, id, paths, &m);
    if (!s.ok()) {
      Fail(ObjectIdToHex(id), s);
      continue;
    }
    if (failed_.count(m.name)) continue;  // reported already
    CatalogEntry now;
    s = store_.FindObject(m.name, &now);
    if (s.ok() && IsPathAddressedManifest(now.manifest.format_version))
      s = Status::InvalidArgument(
          now.manifest.id == id
              ? std::string("still path-addressed: it was not found by this run's walk")
              : "another path-addressed object of this name (" + ObjectIdToHex(now.manifest.id) +
                    ") is the one its name finds; object " + ObjectIdToHex(id) + " left as it is");
    else if (s.ok() && now.manifest.id != UpgradedObjectId(id))
      s = Status::InvalidArgument("its name belongs to version 3 object " +
                                  ObjectIdToHex(now.manifest.id) +
                                  ", which no upgrade made from path-addressed object " +
                                  ObjectIdToHex(id) + "; that one is left as it is");
    if (s.ok()) s = CompleteCommit(now);
    if (!s.ok()) {
      Fail(m.name, s);
      continue;
    }
    RemoveFiles(ChunkFilesOf(id, m.k + m.m));
    RemoveFiles(paths);
    report_->leftovers_removed.push_back(m.name);
  }
}

Status UpgradeRun::CompleteCommit(const CatalogEntry& e) {
  // A kill among the renames of the commit left fewer copies than placed.
  if (e.copies.size() >= e.manifest.manifest_targets.size() && e.stale_copies.empty() &&
      e.bad_copies.empty())
    return Status::Ok();
  Manifest next = e.manifest;
  std::vector<std::string> written;
  FLS_RETURN_IF_ERROR(internal::CommitNextGeneration(store_, e, &next, &written)
                          .WithContext("completing its version 3 manifest's copies"));
  internal::RemoveSupersededCopies(env_, e, written);
  return Status::Ok();
}

void UpgradeRun::ClearV1Flags() {
  for (const Target& t : store_.targets()) {
    internal::TargetIdentity id;
    bool holds = true;
    if (!internal::ReadTargetIdentity(env_, t.path, &id).ok() || !id.v1_objects ||
        !internal::HoldsV1Manifests(env_, t.path, &holds).ok() || holds)
      continue;
    Status s = internal::SetV1Objects(env_, t.path, id, false);
    if (!s.ok()) report_->warnings.push_back("target " + t.path + ": " + s.ToString());
  }
  std::vector<std::string> ignored;
  for (const auto& [id, paths] : ListV1Files(store_, &ignored))
    report_->path_addressed_left += static_cast<int>(paths.size());
}

std::vector<std::string> UpgradeRun::ChunkFilesOf(const ObjectId& id, int n) const {
  std::vector<std::string> out;
  for (const Target& t : store_.targets())
    for (int i = 0; i < n; ++i) {
      const std::string path = JoinPath(t.path, ChunkFileName(id, i));
      FileInfo info;
      if (env_->GetFileInfo(path, &info).ok() && !info.is_directory) out.push_back(path);
    }
  return out;
}

void UpgradeRun::RemoveFiles(const std::vector<std::string>& paths) {
  std::set<std::string> dirs;
  for (const std::string& p : paths) {
    Status s = env_->RemoveFile(p);
    if (s.ok()) {
      report_->removed.push_back(p);
      dirs.insert(DirName(p));
    } else if (s.code() != Status::Code::kNotFound) {
      report_->warnings.push_back("removing " + p + ": " + s.ToString());
    }
  }
  for (const std::string& d : dirs) env_->SyncDir(d);
}

}  // namespace

ObjectId UpgradedObjectId(const ObjectId& old) {
  Sha256 sha;
  static constexpr char kTag[] = "fls-upgrade";
  sha.Update(kTag, sizeof kTag - 1);
  sha.Update(old.data(), old.size());
  ObjectId id{};
  ObjectIdFromHex(sha.FinishHex().substr(0, 32), &id);
  return id;
}

namespace {

// Packs written before member records existed (version 1 stores, and the
// service's packs before them) list their files in their index only: each
// file gets its records, so that it is found by name (fls/pack.h).
void RecordAllPackMembers(const Store& store, UpgradeReport* report) {
  CatalogWalk walk;
  store.WalkCatalog(
      [&](CatalogEntry& e) {
        if (!IsPackName(e.manifest.name)) return true;
        std::uint64_t written = 0;
        Status s = RecordPackMembers(store, e, &written);
        report->members_recorded += written;
        if (!s.ok())
          report->failures.push_back(
              {e.manifest.name, s.WithContext("writing the member records of its files")});
        return true;
      },
      &walk);
}

}  // namespace

Status UpgradeStore(const Store& store, const UpgradeOptions& options, UpgradeReport* report) {
  *report = UpgradeReport{};
  std::string scratch = options.scratch_dir;
  if (scratch.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    scratch = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  FileInfo info;
  if (!store.env()->GetFileInfo(scratch, &info).ok() || !info.is_directory)
    return Status::InvalidArgument("scratch directory " + scratch +
                                   " is not a directory (--scratch DIR)");
  std::unique_ptr<internal::MaintenanceLock> lock;
  FLS_RETURN_IF_ERROR(internal::MaintenanceLock::Acquire(store, "upgrade", &lock));
  FLS_RETURN_IF_ERROR(store.Join());
  store.RemoveStaleTemporaries(&report->removed, &report->warnings);
  report->bytes_before = StoreBytes(store);
  UpgradeRun run(store, options, scratch, report);
  run.RemoveOldScratchFiles();
  run.UpgradeAll();
  run.RemoveLeftovers();
  run.ClearV1Flags();
  RecordAllPackMembers(store, report);
  report->bytes_after = StoreBytes(store);
  return Status::Ok();
}

}  // namespace fls
