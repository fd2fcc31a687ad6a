// Layout v2's catalogue on real files (issue 14): manifests addressed by
// name (m + 1 compact copies, rendezvous-placed), target identities, lookups
// that never list a directory, stores that move or are copied, unreadable
// names and unreferenced chunk files reported, version 1 objects still read.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "archive_test_util.h"
#include "fls/archive.h"
#include "fls/fault_injection_env.h"
#include "fls/manifest.h"
#include "fls/sweep.h"
#include "fls/unreferenced.h"
#include "host/archive/manifest_commit.h"
#include "host/archive/target_identity.h"

namespace fls {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;
namespace fs = std::filesystem;

constexpr std::uint64_t kW = 10000;

std::vector<Target> TargetsUnder(const std::string& root, int n) {
  std::vector<Target> t;
  for (int i = 0; i < n; ++i) {
    const std::string p = root + "/t" + std::to_string(i);
    fs::create_directories(p);
    t.push_back({p, "d" + std::to_string(i)});
  }
  return t;
}

std::unique_ptr<Store> StoreOf(const std::vector<Target>& targets, Env* env = Env::Default()) {
  std::unique_ptr<Store> s;
  Status st = Store::FromTargets(env, targets, &s);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return s;
}

Manifest Archive(const Store& store, const std::string& file, const std::string& name,
                 std::uint64_t stripe = kW) {
  ArchiveOptions o;
  o.stripe_width = stripe;
  o.name = name;
  o.backend = "isal";
  o.threads = 1;
  ArchiveResult r;
  Status s = ArchiveFile(store, file, o, &r);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return r.manifest;
}

Status Restore(const Store& store, const std::string& name, const std::string& out) {
  RestoreOptions o;
  o.output = out;
  o.backend = "isal";
  o.threads = 1;
  RestoreResult r;
  return RestoreObject(store, name, o, &r);
}

// Every file name under the store's target directories.
std::vector<std::string> NamesIn(const std::vector<Target>& targets) {
  std::vector<std::string> out;
  for (const Target& t : targets)
    for (const auto& e : fs::directory_iterator(t.path)) out.push_back(e.path().string());
  return out;
}

void SetOld(const std::string& path) {
  struct timeval tv[2];
  tv[0].tv_sec = tv[1].tv_sec = 1000000000;  // 2001
  tv[0].tv_usec = tv[1].tv_usec = 0;
  ASSERT_EQ(::utimes(path.c_str(), tv), 0) << path;
}

// Counts what a lookup does to the filesystem; records every path touched.
class CountingEnv : public EnvWrapper {
 public:
  using EnvWrapper::EnvWrapper;
  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    Note(dir, &listed_);
    return EnvWrapper::GetChildren(dir, names);
  }
  Status NewRandomAccessFile(const std::string& path,
                             std::unique_ptr<RandomAccessFile>* f) override {
    Note(path, &opened_);
    return EnvWrapper::NewRandomAccessFile(path, f);
  }
  // Chunk and manifest files are opened this way (a link planted under
  // their names is refused).
  Status NewRandomAccessFileNoFollow(const std::string& path, std::unique_ptr<RandomAccessFile>* f,
                                     FileInfo* info) override {
    Note(path, &opened_);
    Status s = EnvWrapper::NewRandomAccessFileNoFollow(path, f, info);
    if (s.ok()) Note(path, &found_);
    return s;
  }
  Status GetFileInfo(const std::string& path, FileInfo* info) override {
    Note(path, &statted_);
    return EnvWrapper::GetFileInfo(path, info);
  }
  void Reset() {
    std::lock_guard<std::mutex> lock(mu_);
    listed_.clear();
    opened_.clear();
    found_.clear();
    statted_.clear();
  }
  std::vector<std::string> listed() const { return Get(listed_); }
  std::vector<std::string> opened() const { return Get(opened_); }  // attempts
  std::vector<std::string> found() const { return Get(found_); }  // no-follow opens that succeeded
  std::vector<std::string> touched() const {
    std::vector<std::string> all = Get(listed_), o = Get(opened_), s = Get(statted_);
    all.insert(all.end(), o.begin(), o.end());
    all.insert(all.end(), s.begin(), s.end());
    return all;
  }

 private:
  void Note(const std::string& p, std::vector<std::string>* v) {
    std::lock_guard<std::mutex> lock(mu_);
    v->push_back(p);
  }
  std::vector<std::string> Get(const std::vector<std::string>& v) const {
    std::lock_guard<std::mutex> lock(mu_);
    return v;
  }
  mutable std::mutex mu_;
  std::vector<std::string> listed_, opened_, found_, statted_;
};

TEST(Catalog, ManifestsAreNameAddressedCompactAndSpreadOverMPlusOneTargets) {
  TempDir dir;
  const auto targets = TargetsUnder(dir.path(), 16);
  auto store = StoreOf(targets);
  WriteFile(dir / "in", testing::RandomBytes(123457, 1));
  std::map<std::string, int> copies_per_target;
  for (int i = 0; i < 40; ++i) {
    const std::string name = "dir/obj-" + std::to_string(i);
    const Manifest mf = Archive(*store, dir / "in", name);
    ASSERT_EQ(mf.format_version, kManifestFormatVersion);
    // Exactly m + 1 copies, on the object's own chunk targets, highest
    // rendezvous score first.
    ASSERT_EQ(mf.manifest_targets.size(), 5u);
    std::vector<std::pair<std::uint64_t, std::string>> ranked;
    std::set<std::string> chunk_targets;
    for (const ManifestChunk& c : mf.chunks)
      if (chunk_targets.insert(c.target).second)
        ranked.push_back({internal::RendezvousScore(NameHash(name), c.target_id), c.target});
    std::sort(ranked.rbegin(), ranked.rend());
    for (int c = 0; c < 5; ++c) EXPECT_EQ(mf.manifest_targets[c], ranked[c].second) << name;
    int found = 0;
    for (const Target& t : targets) {
      const std::string p = JoinPath(t.path, NameManifestFileName(name));
      if (!fs::exists(p)) continue;
      ++found;
      ++copies_per_target[t.path];
      const std::string text = ReadFile(p);
      EXPECT_EQ(text.find(' '), std::string::npos) << "not compact: " << text;
      EXPECT_EQ(text.find(t.path), std::string::npos) << "names a path: " << text;
      EXPECT_LE(text.size(), 4096u);
    }
    EXPECT_EQ(found, 5) << name;
  }
  // Spread: every target holds some copies, none holds most of them.
  EXPECT_EQ(copies_per_target.size(), 16u);
  for (const auto& [t, n] : copies_per_target) EXPECT_LT(n, 30) << t;
  // No version 1 manifest file anywhere.
  for (const std::string& p : NamesIn(targets)) {
    ObjectId id;
    std::uint64_t g;
    EXPECT_FALSE(ParseManifestFileName(BaseName(p), &id, &g)) << p;
  }
}

TEST(Catalog, A10Plus4ManifestWithA1KiBNameFitsOneBlock) {
  TempDir dir;
  const auto targets = TargetsUnder(dir.path(), 14);
  auto store = StoreOf(targets);
  WriteFile(dir / "in", testing::RandomBytes(3 << 20, 2));
  // 1,024 bytes of name: multi-byte UTF-8, quotes and backslashes (escaped
  // in JSON, so the text grows) and a long path.
  // Whole pieces only (a name must be valid UTF-8 without control
  // characters), then ASCII up to exactly 1,024 bytes.
  const std::string piece = "réseau/\"q\"\\données-";
  std::string name;
  while (name.size() + piece.size() <= 1024 - 5) name += piece;
  name.append(1024 - 5 - name.size(), 'x');
  name += "€.x";
  ASSERT_EQ(name.size(), 1024u);
  const Manifest mf = Archive(*store, dir / "in", name, 10u << 20);
  ASSERT_FALSE(mf.name.empty());
  for (const std::string& t : mf.manifest_targets) {
    const std::string p = JoinPath(t, NameManifestFileName(name));
    EXPECT_LE(fs::file_size(p), 4096u) << p;
    struct stat st;
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_LE(st.st_blocks * 512, 4096) << "more than one 4 KiB block: " << p;
  }
  ASSERT_TRUE(Restore(*store, name, dir / "out").ok());
  EXPECT_EQ(ReadFile(dir / "out"), ReadFile(dir / "in"));
}

TEST(Catalog, TargetsJoinOnceWithOneStoreIdAndTheirOwnIds) {
  TempDir dir;
  const auto targets = TargetsUnder(dir.path(), 6);
  auto store = StoreOf(targets);
  EXPECT_EQ(store->store_id(), "");  // nothing joined before the first write
  ASSERT_TRUE(store->Join().ok());
  std::set<std::string> ids;
  std::string sid;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    internal::TargetIdentity id;
    ASSERT_TRUE(internal::ReadTargetIdentity(Env::Default(), targets[i].path, &id).ok());
    if (sid.empty()) sid = id.store_id;
    EXPECT_EQ(id.store_id, sid);
    EXPECT_FALSE(id.v1_objects);
    EXPECT_EQ(store->TargetId(static_cast<int>(i)), id.target_id);
    ids.insert(id.target_id);
  }
  EXPECT_EQ(ids.size(), targets.size());
  EXPECT_EQ(store->store_id(), sid);
  // Joining again, or from another Store object, changes nothing.
  const std::string before = ReadFile(targets[0].path + "/fls-target.json");
  auto again = StoreOf(targets);
  ASSERT_TRUE(again->Join().ok());
  EXPECT_EQ(ReadFile(targets[0].path + "/fls-target.json"), before);
  // A target added later joins the same store.
  auto more = TargetsUnder(dir.path(), 7);
  auto bigger = StoreOf(more);
  ASSERT_TRUE(bigger->Join().ok());
  EXPECT_EQ(bigger->store_id(), sid);
  EXPECT_EQ(ids.count(bigger->TargetId(6)), 0u);
}

TEST(Catalog, TargetsOfTwoStoresOrACopiedTargetAreRefused) {
  TempDir dir;
  const auto a = TargetsUnder(dir / "a", 3);
  const auto b = TargetsUnder(dir / "b", 3);
  ASSERT_TRUE(StoreOf(a)->Join().ok());
  ASSERT_TRUE(StoreOf(b)->Join().ok());
  std::vector<Target> mixed = {a[0], a[1], b[0]};
  std::unique_ptr<Store> s;
  Status st = Store::FromTargets(Env::Default(), mixed, &s);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find(a[0].path), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(b[0].path), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("different stores"), std::string::npos) << st.message();
  // A target directory copied into a second place of the same store.
  fs::copy(a[1].path, dir / "a/t1-copy", fs::copy_options::recursive);
  std::vector<Target> copied = {a[0], a[1], {dir / "a/t1-copy", "x"}};
  st = Store::FromTargets(Env::Default(), copied, &s);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("same identity"), std::string::npos) << st.message();
}

TEST(Catalog, LookupOpensOneFilePerTargetAndListsNoDirectory) {
  TempDir dir;
  const auto targets = TargetsUnder(dir.path(), 14);
  CountingEnv env(Env::Default());
  auto store = StoreOf(targets, &env);
  WriteFile(dir / "in", testing::RandomBytes(30000, 3));
  auto lookup_cost = [&](const std::string& name) {
    env.Reset();
    CatalogEntry e;
    EXPECT_TRUE(store->FindObject(name, &e).ok()) << name;
    EXPECT_TRUE(env.listed().empty()) << "a lookup listed " << env.listed().front();
    EXPECT_EQ(env.found().size(), 5u) << "the m + 1 copies are what a lookup opens";
    return std::make_pair(env.opened().size(), env.touched().size());
  };
  Archive(*store, dir / "in", "first");
  const auto small = lookup_cost("first");
  // One open attempt per target (O_NOFOLLOW: a missing copy is an ENOENT,
  // no stat first), of which the m + 1 copies succeed (found(), above).
  EXPECT_EQ(small.first, targets.size());
  for (int i = 0; i < 150; ++i) Archive(*store, dir / "in", "more-" + std::to_string(i));
  const auto large = lookup_cost("first");
  EXPECT_EQ(large, small) << "the cost of a lookup grew with the store";
  // A name that does not exist: one probe per target, no listing.
  env.Reset();
  CatalogEntry e;
  EXPECT_EQ(store->FindObject("absent", &e).code(), Status::Code::kNotFound);
  EXPECT_TRUE(env.listed().empty());
  EXPECT_LE(env.touched().size(), targets.size());
  // A whole restore lists no target directory either.
  env.Reset();
  ASSERT_TRUE(Restore(*store, "first", dir / "out").ok());
  for (const std::string& d : env.listed())
    for (const Target& t : targets) EXPECT_NE(d, t.path) << "restore listed a target";
  EXPECT_EQ(ReadFile(dir / "out"), ReadFile(dir / "in"));
}

TEST(Catalog, StoreMovedToOtherPathsRestoresBitExact) {
  TempDir dir;
  auto targets = TargetsUnder(dir / "old", 14);
  const std::string data = testing::RandomBytes(250001, 4);
  WriteFile(dir / "in", data);
  Archive(*StoreOf(targets), dir / "in", "moved");
  // The disks come back mounted elsewhere, in another order.
  fs::rename(dir / "old", dir / "new");
  std::vector<Target> moved;
  for (int i = 13; i >= 0; --i) moved.push_back({dir / ("new/t" + std::to_string(i)), "x"});
  auto store = StoreOf(moved);
  ASSERT_TRUE(Restore(*store, "moved", dir / "out").ok());
  EXPECT_EQ(ReadFile(dir / "out"), data);
  CatalogEntry e;
  ASSERT_TRUE(store->FindObject("moved", &e).ok());
  ObjectReport r;
  ASSERT_TRUE(VerifyObject(*store, e, VerifyOptions{}, &r).ok());
  EXPECT_EQ(r.health, Health::kHealthy) << (r.notes.empty() ? "" : r.notes.front());
}

TEST(Catalog, ACopyOfAStoreNeverReadsTheOriginal) {
  TempDir dir;
  auto original = TargetsUnder(dir / "orig", 14);
  const std::string data = testing::RandomBytes(300000, 5);
  WriteFile(dir / "in", data);
  const Manifest mf = Archive(*StoreOf(original), dir / "in", "copied");
  fs::copy(dir / "orig", dir / "copy", fs::copy_options::recursive);
  std::vector<Target> copy;
  for (int i = 0; i < 14; ++i) copy.push_back({dir / ("copy/t" + std::to_string(i)), "x"});
  // Damage the copy: two chunks gone, so readers look for them elsewhere.
  fs::remove(JoinPath(dir / ("copy/" + BaseName(mf.chunks[2].target)), mf.chunks[2].file));
  fs::remove(JoinPath(dir / ("copy/" + BaseName(mf.chunks[9].target)), mf.chunks[9].file));
  CountingEnv env(Env::Default());
  auto store = StoreOf(copy, &env);
  ASSERT_TRUE(Restore(*store, "copied", dir / "out").ok());
  EXPECT_EQ(ReadFile(dir / "out"), data);
  CatalogEntry e;
  ASSERT_TRUE(store->FindObject("copied", &e).ok());
  RepairResult rr;
  ASSERT_TRUE(RepairObject(*store, e, RepairOptions{}, &rr).ok());
  EXPECT_EQ(rr.rebuilt.size(), 2u);
  for (const std::string& p : env.touched())
    EXPECT_EQ(p.find(dir / "orig"), std::string::npos) << "the copy touched " << p;
  // With the original gone altogether, the copy is whole.
  fs::rename(dir / "orig", dir / "orig-away");
  ASSERT_TRUE(Restore(*StoreOf(copy), "copied", dir / "out2").ok());
  EXPECT_EQ(ReadFile(dir / "out2"), data);
  // And the original still restores on its own (the repair of the copy
  // wrote nothing there).
  fs::rename(dir / "orig-away", dir / "orig");
  ASSERT_TRUE(Restore(*StoreOf(original), "copied", dir / "out3").ok());
  EXPECT_EQ(ReadFile(dir / "out3"), data);
}

TEST(Catalog, AChunkOnAnUnknownTargetIsFoundByNameOrMissing) {
  TempDir dir;
  auto targets = TargetsUnder(dir.path(), 15);
  const std::string data = testing::RandomBytes(200000, 6);
  WriteFile(dir / "in", data);
  auto all = StoreOf(targets);
  const Manifest mf = Archive(*all, dir / "in", "o");
  // The store loses a target from its config; its chunk moves by hand to the
  // spare target (found by name: misplaced), or is gone (missing).
  const std::string lost = mf.chunks[4].target;
  std::vector<Target> rest;
  for (const Target& t : targets)
    if (t.path != lost) rest.push_back(t);
  std::string spare;
  for (const Target& t : rest) {
    bool used = false;
    for (const ManifestChunk& c : mf.chunks) used = used || c.target == t.path;
    if (!used) spare = t.path;
  }
  ASSERT_FALSE(spare.empty());
  fs::rename(JoinPath(lost, mf.chunks[4].file), JoinPath(spare, mf.chunks[4].file));
  auto store = StoreOf(rest);
  CatalogEntry e;
  ASSERT_TRUE(store->FindObject("o", &e).ok());
  EXPECT_EQ(e.manifest.chunks[4].target, "");
  ObjectReport r;
  QuickCheckObject(*store, e, &r);
  EXPECT_EQ(r.chunks[4].state, "misplaced");
  ASSERT_TRUE(Restore(*store, "o", dir / "out").ok());
  EXPECT_EQ(ReadFile(dir / "out"), data);
  fs::remove(JoinPath(spare, mf.chunks[4].file));
  QuickCheckObject(*store, e, &r);
  EXPECT_EQ(r.chunks[4].state, "missing");
  RepairResult rr;
  ASSERT_TRUE(RepairObject(*store, e, RepairOptions{}, &rr).ok());
  ASSERT_TRUE(store->FindObject("o", &e).ok());
  EXPECT_FALSE(e.manifest.chunks[4].target.empty());
  ASSERT_TRUE(VerifyObject(*store, e, VerifyOptions{}, &r).ok());
  EXPECT_EQ(r.health, Health::kHealthy);
}

using testing::DropIdentities;
using testing::MakePathAddressed;

TEST(Catalog, PathAddressedObjectsStayReadableBesideNameAddressedOnes) {
  TempDir dir;
  const auto targets = TargetsUnder(dir.path(), 14);
  const std::string a = testing::RandomBytes(120000, 7), b = testing::RandomBytes(54321, 8);
  WriteFile(dir / "a", a);
  WriteFile(dir / "b", b);
  {
    auto store = StoreOf(targets);
    Archive(*store, dir / "a", "old-a");
    Archive(*store, dir / "b", "old-b");
    MakePathAddressed(*store, "old-a");
    MakePathAddressed(*store, "old-b");
  }
  DropIdentities(targets);
  auto store = StoreOf(targets);
  EXPECT_TRUE(store->MayHoldV1());
  ASSERT_TRUE(Restore(*store, "old-a", dir / "out-a").ok());
  EXPECT_EQ(ReadFile(dir / "out-a"), a);
  // Writing joins the targets; those holding version 1 manifests say so.
  Archive(*store, dir / "b", "new-b");
  internal::TargetIdentity id;
  ASSERT_TRUE(internal::ReadTargetIdentity(Env::Default(), targets[0].path, &id).ok());
  EXPECT_TRUE(id.v1_objects);
  EXPECT_TRUE(store->MayHoldV1());
  const Catalog c = store->ReadCatalog();
  ASSERT_EQ(c.objects.size(), 3u);
  EXPECT_EQ(c.objects[0].manifest.name, "new-b");
  EXPECT_EQ(c.objects[0].manifest.format_version, kManifestFormatVersion);
  EXPECT_EQ(c.objects[1].manifest.format_version, kManifestFormatVersion2);
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
  // A repair keeps a path-addressed object in its version.
  CatalogEntry e;
  ASSERT_TRUE(store->FindObject("old-b", &e).ok());
  fs::remove(e.manifest.chunks[3].path());
  RepairResult rr;
  ASSERT_TRUE(RepairObject(*store, e, RepairOptions{}, &rr).ok());
  ASSERT_TRUE(store->FindObject("old-b", &e).ok());
  EXPECT_EQ(e.manifest.format_version, kManifestFormatVersion2);
  EXPECT_EQ(e.manifest.generation, 2u);
  EXPECT_TRUE(e.stale_copies.empty());
  ASSERT_TRUE(Restore(*store, "old-b", dir / "out-b").ok());
  EXPECT_EQ(ReadFile(dir / "out-b"), b);
}

TEST(Catalog, ANameAddressedManifestSupersedesAPathAddressedOneOfTheSameName) {
  TempDir dir;
  const auto targets = TargetsUnder(dir.path(), 14);
  WriteFile(dir / "one", testing::RandomBytes(1000, 9));
  WriteFile(dir / "two", testing::RandomBytes(2000, 10));
  auto store = StoreOf(targets);
  Archive(*store, dir / "one", "same");
  MakePathAddressed(*store, "same");
  // As an interrupted upgrade leaves it: the name archived again as version 3.
  Archive(*StoreOf(targets), dir / "two", "same-tmp");
  CatalogEntry tmp;
  ASSERT_TRUE(store->FindObject("same-tmp", &tmp).ok());
  Manifest m = tmp.manifest;
  m.name = "same";
  internal::ChooseManifestTargets(*store, &m);
  std::vector<std::string> written;
  ASSERT_TRUE(internal::CommitManifest(Env::Default(), m, &written).ok());
  for (const std::string& p : tmp.copies) fs::remove(p);
  CatalogEntry e;
  ASSERT_TRUE(store->FindObject("same", &e).ok());
  EXPECT_EQ(e.manifest.format_version, kManifestFormatVersion);
  EXPECT_EQ(e.manifest.size, 2000u);
  const Catalog c = store->ReadCatalog();
  ASSERT_EQ(c.objects.size(), 1u);
  EXPECT_EQ(c.objects[0].manifest.size, 2000u);
}

TEST(Catalog, UnreadableNamesAreReportedNeverSilentlyDropped) {
  TempDir dir;
  const auto targets = TargetsUnder(dir.path(), 14);
  auto store = StoreOf(targets);
  WriteFile(dir / "in", testing::RandomBytes(5000, 11));
  const Manifest ok = Archive(*store, dir / "in", "fine");
  const Manifest a = Archive(*store, dir / "in", "damaged");
  const Manifest b = Archive(*store, dir / "in", "garbage");
  // Every copy of "damaged" fails its checksum (JSON still parsable); every
  // copy of "garbage" is not JSON at all.
  for (const std::string& t : a.manifest_targets) {
    const std::string p = JoinPath(t, NameManifestFileName("damaged"));
    std::string text = ReadFile(p);
    text.replace(text.find("\"mode\":") + 7, 1, "9");
    WriteFile(p, text);
  }
  for (const std::string& t : b.manifest_targets)
    WriteFile(JoinPath(t, NameManifestFileName("garbage")), "\x01\x02 not json");
  CatalogEntry e;
  Status s = store->FindObject("damaged", &e);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("every manifest copy"), std::string::npos);
  const Catalog c = store->ReadCatalog();
  ASSERT_EQ(c.objects.size(), 1u);
  EXPECT_EQ(c.objects[0].manifest.name, "fine");
  ASSERT_EQ(c.unreadable.size(), 2u);
  std::set<std::string> names, hashes;
  for (const UnreadableObject& u : c.unreadable) {
    names.insert(u.name);
    hashes.insert(u.hash);
    EXPECT_EQ(u.paths.size(), 5u);
  }
  EXPECT_TRUE(names.count("damaged"));
  EXPECT_TRUE(names.count(""));  // garbage: only its hash and paths are known
  EXPECT_TRUE(hashes.count(NameHash("garbage")));
  // A sweep reports both, and archiving the name again is refused.
  SweepOptions so;
  so.verify_only = true;
  so.backend = "isal";
  SweepReport r;
  ASSERT_TRUE(RunSweep(*store, so, &r).ok());
  EXPECT_EQ(r.unreadable_objects.size(), 2u);
  EXPECT_EQ(r.healthy, 1u);
  ArchiveOptions o;
  o.name = "damaged";
  o.backend = "isal";
  ArchiveResult ar;
  EXPECT_FALSE(ArchiveFile(*store, dir / "in", o, &ar).ok());
}

TEST(Catalog, OrphanAndLeftoverChunkFilesAreReportedAndOnlyLeftoversRemoved) {
  TempDir dir;
  const auto targets = TargetsUnder(dir.path(), 15);
  auto store = StoreOf(targets);
  WriteFile(dir / "in", testing::RandomBytes(70000, 12));
  const Manifest mf = Archive(*store, dir / "in", "kept");
  // An orphan: chunk files of an object no manifest names (an archive killed
  // between its chunks and its manifest). One old, one written just now.
  const ObjectId lost_id = RandomObjectId(), fresh_id = RandomObjectId();
  const std::string orphan = JoinPath(targets[3].path, ChunkFileName(lost_id, 0));
  const std::string fresh = JoinPath(targets[4].path, ChunkFileName(fresh_id, 1));
  fs::copy_file(mf.chunks[0].path(), orphan);
  fs::copy_file(mf.chunks[1].path(), fresh);
  SetOld(orphan);
  // A leftover: a chunk of the object on a target its manifest does not place it on.
  std::string spare;
  for (const Target& t : targets) {
    bool used = false;
    for (const ManifestChunk& c : mf.chunks) used = used || c.target == t.path;
    if (!used) spare = t.path;
  }
  const std::string leftover = JoinPath(spare, mf.chunks[6].file);
  fs::copy_file(mf.chunks[6].path(), leftover);
  SetOld(leftover);

  ChunkReferences refs;
  CatalogWalk walk;
  store->WalkCatalog(
      [&](CatalogEntry& e) {
        refs.Add(*store, e.manifest);
        return true;
      },
      &walk);
  refs.Finish();
  std::vector<UnreferencedChunk> found;
  FindUnreferencedChunks(*store, refs, kUnreferencedMinAgeNs, &found, nullptr);
  ASSERT_EQ(found.size(), 2u);
  std::map<std::string, UnreferencedChunk> by_path;
  for (const auto& u : found) by_path[u.path] = u;
  ASSERT_TRUE(by_path.count(orphan));
  ASSERT_TRUE(by_path.count(leftover));
  EXPECT_TRUE(by_path[orphan].orphan);
  EXPECT_EQ(by_path[orphan].bytes, fs::file_size(orphan));
  EXPECT_FALSE(by_path[leftover].orphan);

  SweepOptions so;
  so.verify_only = true;
  so.backend = "isal";
  SweepReport r;
  ASSERT_TRUE(RunSweep(*store, so, &r).ok());
  EXPECT_EQ(r.unreferenced.size(), 2u);
  // A repair sweep removes the leftover (its placed copy is good), keeps the orphans.
  so.verify_only = false;
  ASSERT_TRUE(RunSweep(*store, so, &r).ok());
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_TRUE(fs::exists(orphan));
  EXPECT_TRUE(fs::exists(fresh));
  ASSERT_EQ(r.unreferenced.size(), 1u);
  EXPECT_EQ(r.unreferenced[0].path, orphan);
  EXPECT_EQ(std::count(r.cleaned.begin(), r.cleaned.end(), leftover), 1);
}

TEST(Catalog, AFailedRepairCommitPutsThePreviousGenerationBack) {
  TempDir dir;
  const auto targets = TargetsUnder(dir.path(), 14);
  FaultInjectionEnv env(Env::Default());
  auto store = StoreOf(targets, &env);
  const std::string data = testing::RandomBytes(100000, 13);
  WriteFile(dir / "in", data);
  const Manifest mf = Archive(*store, dir / "in", "obj");
  fs::remove(mf.chunks[0].path());
  CatalogEntry e;
  ASSERT_TRUE(store->FindObject("obj", &e).ok());
  // The third manifest rename of the repair's commit fails.
  FaultRule rule;
  rule.op = FaultOp::kRename;
  rule.path_contains = ".manifest";
  rule.succeed_first = 2;
  rule.fail_times = 1;
  env.AddRule(rule);
  RepairResult rr;
  EXPECT_FALSE(RepairObject(*store, e, RepairOptions{}, &rr).ok());
  env.ClearRules();
  CatalogEntry after;
  ASSERT_TRUE(store->FindObject("obj", &after).ok());
  EXPECT_EQ(after.manifest.generation, 1u);
  EXPECT_EQ(after.copies.size(), 5u);
  EXPECT_TRUE(after.problems.empty()) << after.problems.front();
  ASSERT_TRUE(Restore(*store, "obj", dir / "out").ok());
  EXPECT_EQ(ReadFile(dir / "out"), data);
}

}  // namespace
}  // namespace fls
