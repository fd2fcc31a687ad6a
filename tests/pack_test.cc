// Packs and member records (fls/pack.h): the pack stream's bytes and index,
// small files archived into packs and found again by name without a
// catalogue, restores of packed files (whole, ranges, degraded, damaged),
// re-archive quick checks, orphan and damaged records, and a crash at every
// mutating step of a pack archive.
#include <sys/stat.h>

#include <atomic>
#include <map>
#include <set>

#include "archive_test_util.h"
#include "fls/fault_injection_env.h"
#include "fls/pack.h"
#include "fls/sha256.h"
#include "host/archive/pack_stream.h"

namespace fls {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

OpenSourceFn OpenWith(Env* env) {
  return [env](const std::string& path, std::unique_ptr<RandomAccessFile>* f, FileInfo* info) {
    FLS_RETURN_IF_ERROR(env->GetFileInfo(path, info));
    return env->NewRandomAccessFile(path, f);
  };
}

// Reads the whole stream in reads of the given sizes, in turn.
std::string ReadStream(const internal::PackStream& s, const std::vector<std::size_t>& sizes) {
  std::string out;
  for (std::size_t i = 0; out.size() < s.size(); ++i) {
    std::string buf(sizes[i % sizes.size()], '\0');
    std::size_t got = 0;
    EXPECT_TRUE(s.Read(out.size(), buf.size(), buf.data(), &got).ok());
    if (got == 0) break;
    out.append(buf.data(), got);
  }
  return out;
}

std::string Sha(const std::string& s) {
  Sha256 h;
  h.Update(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  return h.FinishHex();
}

TEST(PackStream, BytesThenAnIndexThatParses) {
  TempDir t;
  const std::vector<std::string> bodies = {"", "a", std::string(5000, 'z'), "", "tail"};
  std::vector<PackInput> inputs;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    WriteFile(t / ("f" + std::to_string(i)), bodies[i]);
    inputs.push_back({"obj/" + std::to_string(i), t / ("f" + std::to_string(i)), bodies[i].size()});
  }
  for (const std::vector<std::size_t>& reads :
       {std::vector<std::size_t>{1 << 20}, std::vector<std::size_t>{1, 7, 4096, 3}}) {
    internal::PackStream s(OpenWith(Env::Default()), inputs, "test pack");
    const std::string pack = ReadStream(s, reads);
    ASSERT_EQ(pack.size(), s.size());
    std::vector<PackEntry> parsed;
    std::uint64_t needed = 0;
    // A short tail asks for more; the whole tail parses.
    ASSERT_TRUE(
        ParsePackTail(pack.substr(pack.size() - 20), pack.size(), "p", &parsed, &needed).ok());
    EXPECT_GT(needed, 20u);
    ASSERT_TRUE(ParsePackTail(pack, pack.size(), "p", &parsed, &needed).ok());
    ASSERT_EQ(parsed.size(), bodies.size());
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      EXPECT_TRUE(s.status(i).ok()) << s.status(i).ToString();
      EXPECT_EQ(parsed[i].name, inputs[i].name);
      EXPECT_EQ(pack.substr(parsed[i].offset, parsed[i].length), bodies[i]);
      EXPECT_EQ(parsed[i].sha256, Sha(bodies[i]));
      EXPECT_EQ(s.entry(i).sha256, Sha(bodies[i]));
      EXPECT_EQ(s.entry(i).offset, parsed[i].offset);
    }
    // Damage: no magic, a length beyond the pack.
    std::string bad = pack;
    bad[bad.size() - 1] ^= 1;
    EXPECT_EQ(ParsePackTail(bad, bad.size(), "p", &parsed, &needed).code(),
              Status::Code::kCorruption);
    bad = pack;
    bad[bad.size() - 10] = '\x7f';
    EXPECT_EQ(ParsePackTail(bad, bad.size(), "p", &parsed, &needed).code(),
              Status::Code::kCorruption);
  }
  // Reads must come in order.
  internal::PackStream s(OpenWith(Env::Default()), inputs, "test pack");
  char buf[16];
  std::size_t got = 0;
  EXPECT_FALSE(s.Read(3, sizeof buf, buf, &got).ok());
}

TEST(PackStream, AMissingOrChangedFileFailsAloneAndKeepsItsPlace) {
  TempDir t;
  WriteFile(t / "a", "alpha");
  WriteFile(t / "grew", "12345");
  WriteFile(t / "b", "bravo");
  const std::vector<PackInput> inputs = {{"a", t / "a", 5},
                                         {"missing", t / "missing", 9},
                                         {"grew", t / "grew", 3},  // listed at 3, has 5
                                         {"b", t / "b", 5}};
  internal::PackStream s(OpenWith(Env::Default()), inputs, "test pack");
  const std::string pack = ReadStream(s, {4});
  ASSERT_EQ(pack.size(), s.size());
  EXPECT_TRUE(s.status(0).ok());
  EXPECT_EQ(s.status(1).code(), Status::Code::kNotFound) << s.status(1).ToString();
  EXPECT_NE(s.status(2).message().find("changed while being archived"), std::string::npos)
      << s.status(2).ToString();
  EXPECT_TRUE(s.status(3).ok());
  EXPECT_EQ(pack.substr(0, 5), "alpha");
  EXPECT_EQ(pack.substr(5, 12), std::string(12, '\0'));  // the failed ones' places
  EXPECT_EQ(pack.substr(17, 5), "bravo");
  std::vector<PackEntry> parsed;
  std::uint64_t needed = 0;
  ASSERT_TRUE(ParsePackTail(pack, pack.size(), "p", &parsed, &needed).ok());
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0].name, "a");
  EXPECT_EQ(parsed[1].name, "b");
  EXPECT_EQ(parsed[1].offset, 17u);
}

struct PackFixture {
  TempDir dir;
  Env* env;
  std::unique_ptr<Store> store;
  std::map<std::string, std::string> files;  // name -> bytes
  std::vector<PackInput> inputs;
  explicit PackFixture(int count = 40, Env* e = Env::Default()) : env(e) {
    store = testing::MakeStore(dir / "s", 14, env);
    testing::fs::create_directories(dir / "src");
    for (int i = 0; i < count; ++i) {
      // Sizes from 0 to ~150 KB, spread in log scale.
      const std::size_t size = i == 0 ? 0 : static_cast<std::size_t>(std::pow(1.35, i));
      const std::string name = "dir" + std::to_string(i % 3) + "/file" + std::to_string(i);
      const std::string path = dir / ("src/f" + std::to_string(i));
      files[name] = testing::RandomBytes(size, 100 + i);
      WriteFile(path, files[name]);
      ::chmod(path.c_str(), i % 2 ? 0640 : 0604);
      inputs.push_back({name, path, size});
    }
  }
  ArchiveOptions Options() const {
    ArchiveOptions o;
    o.stripe_width = 64 << 10;
    o.backend = "isal";
    o.threads = 1;
    return o;
  }
  Status Archive(std::vector<PackedItem>* items, std::size_t max_files = 16) {
    PackOptions po;
    po.max_files = max_files;
    items->assign(inputs.size(), PackedItem());
    std::vector<int> calls(inputs.size(), 0);
    Status s = ArchiveSmallFiles(*store, OpenWith(env), inputs, Options(), po,
                                 [&](std::size_t i, const PackedItem& item) {
                                   (*items)[i] = item;
                                   ++calls[i];
                                 });
    for (std::size_t i = 0; s.ok() && i < calls.size(); ++i)
      EXPECT_EQ(calls[i], 1) << "file " << i << " reported " << calls[i] << " times";
    return s;
  }
  Status Restore(const std::string& name, std::string* out, RestoreResult* r = nullptr,
                 std::uint64_t offset = 0, std::uint64_t length = 0) {
    RestoreOptions ro;
    ro.output = dir / "out";
    ro.backend = "isal";
    if (length > 0) {
      ro.has_range = true;
      ro.offset = offset;
      ro.length = length;
    }
    RestoreResult rr;
    Status s = RestoreObject(*store, name, ro, r ? r : &rr);
    if (s.ok()) *out = ReadFile(dir / "out");
    testing::fs::remove(dir / "out");
    return s;
  }
};

TEST(PackedFiles, ArchivedIntoPacksAndRestoredByName) {
  PackFixture f;
  std::vector<PackedItem> items;
  ASSERT_TRUE(f.Archive(&items).ok());
  std::set<std::string> packs;
  for (std::size_t i = 0; i < items.size(); ++i) {
    ASSERT_TRUE(items[i].status.ok()) << f.inputs[i].name << ": " << items[i].status.ToString();
    EXPECT_FALSE(items[i].unchanged);
    EXPECT_TRUE(IsPackName(items[i].entry.pack));
    packs.insert(items[i].entry.pack);
  }
  EXPECT_EQ(packs.size(), 3u);  // 40 files, 16 per pack
  // Only the packs are objects; each file is found by name and restores
  // bit-exact with its own mode and mtime.
  EXPECT_EQ(f.store->ReadCatalog().objects.size(), 3u);
  for (const PackInput& in : f.inputs) {
    MemberEntry m;
    ASSERT_TRUE(FindMember(*f.store, in.name, &m).ok()) << in.name;
    EXPECT_EQ(m.copies.size(), 5u) << in.name;  // m + 1
    std::string got;
    ASSERT_TRUE(f.Restore(in.name, &got).ok()) << in.name;
    EXPECT_EQ(got, f.files[in.name]) << in.name;
    FileInfo src, out;
    ASSERT_TRUE(f.env->GetFileInfo(in.source, &src).ok());
    RestoreOptions ro;
    ro.output = f.dir / "meta";
    RestoreResult rr;
    ASSERT_TRUE(RestoreObject(*f.store, in.name, ro, &rr).ok());
    ASSERT_TRUE(f.env->GetFileInfo(f.dir / "meta", &out).ok());
    EXPECT_EQ(out.mode, src.mode) << in.name;
    EXPECT_EQ(out.mtime_ns, src.mtime_ns) << in.name;
    EXPECT_TRUE(rr.sha256_checked);
  }
  // A range of a packed file is a range of that file, not of its pack.
  const PackInput& big = f.inputs.back();
  std::string part;
  ASSERT_TRUE(f.Restore(big.name, &part, nullptr, 1000, 5000).ok());
  EXPECT_EQ(part, f.files[big.name].substr(1000, 5000));
  RestoreOptions ro;
  ro.output = f.dir / "x";
  ro.has_range = true;
  ro.offset = big.size - 10;
  ro.length = 11;
  RestoreResult rr;
  EXPECT_EQ(RestoreObject(*f.store, big.name, ro, &rr).code(), Status::Code::kInvalidArgument);
}

// Counts the opens of each pack's manifest file (fls-n<H>.manifest of a
// name "fls-pack/...").
class PackManifestOpens : public EnvWrapper {
 public:
  using EnvWrapper::EnvWrapper;
  Status NewRandomAccessFileNoFollow(const std::string& path, std::unique_ptr<RandomAccessFile>* f,
                                     FileInfo* info) override {
    if (watched_.count(Base(path))) ++opens_;
    return EnvWrapper::NewRandomAccessFileNoFollow(path, f, info);
  }
  void Watch(const std::string& manifest_file) { watched_.insert(manifest_file); }
  int opens() const { return opens_; }
  void Reset() { opens_ = 0; }

 private:
  static std::string Base(const std::string& p) { return p.substr(p.rfind('/') + 1); }
  std::set<std::string> watched_;
  std::atomic<int> opens_{0};
};

// A walk of the members (ls, mount, sweeps' deletion pass) reads each pack's
// manifest once, not once per member: 40 members in 3 packs cost 3 pack
// lookups of one open per target each.
TEST(PackedFiles, AMemberWalkLooksEachPackUpOnce) {
  PackManifestOpens env(Env::Default());
  PackFixture f(40, &env);
  std::vector<PackedItem> items;
  ASSERT_TRUE(f.Archive(&items).ok());
  std::set<std::string> packs;
  for (const PackedItem& item : items) packs.insert(item.entry.pack);
  ASSERT_EQ(packs.size(), 3u);
  for (const std::string& pack : packs) env.Watch(NameManifestFileName(pack));
  env.Reset();
  int members = 0;
  std::vector<std::string> problems;
  WalkMembers(
      *f.store,
      [&](MemberEntry& me) {
        EXPECT_EQ(me.member.pack, me.pack.manifest.name);
        ++members;
        return true;
      },
      &problems);
  EXPECT_EQ(members, 40);
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_EQ(env.opens(), static_cast<int>(packs.size() * f.store->targets().size()));
}

// ReadObject: the bytes of a packed file (or a range of it) into a sink; a
// failing sink stops the read with its own error.
TEST(PackedFiles, ReadIntoASink) {
  PackFixture f(30);  // the last file is ~6 KB
  std::vector<PackedItem> items;
  ASSERT_TRUE(f.Archive(&items).ok());
  const PackInput& in = f.inputs.back();
  ASSERT_GT(in.size, 200u);
  std::string got;
  const ByteSink collect = [&](const std::uint8_t* p, std::size_t n) {
    got.append(reinterpret_cast<const char*>(p), n);
    return Status::Ok();
  };
  RestoreOptions ro;
  ro.backend = "isal";
  RestoreResult r;
  ASSERT_TRUE(ReadObject(*f.store, in.name, ro, collect, &r).ok());
  EXPECT_EQ(got, f.files[in.name]);
  EXPECT_TRUE(r.sha256_checked);
  EXPECT_EQ(r.size, in.size);
  ro.has_range = true;
  ro.offset = 7;
  ro.length = 100;
  got.clear();
  ASSERT_TRUE(ReadObject(*f.store, in.name, ro, collect, &r).ok());
  EXPECT_EQ(got, f.files[in.name].substr(7, 100));
  ro.has_range = false;
  const Status s = ReadObject(
      *f.store, in.name, ro,
      [](const std::uint8_t*, std::size_t) { return Status::NoSpace("sink full"); }, &r);
  EXPECT_EQ(s.code(), Status::Code::kNoSpace) << s.ToString();
}

TEST(PackedFiles, ArchivingAgainIsUnchangedAndOtherContentIsRefused) {
  PackFixture f(20);
  std::vector<PackedItem> items;
  ASSERT_TRUE(f.Archive(&items).ok());
  const std::size_t before = testing::AllFiles(f.dir / "s").size();
  ASSERT_TRUE(f.Archive(&items).ok());
  for (std::size_t i = 0; i < items.size(); ++i) {
    EXPECT_TRUE(items[i].status.ok()) << items[i].status.ToString();
    EXPECT_TRUE(items[i].unchanged) << f.inputs[i].name;
  }
  EXPECT_EQ(testing::AllFiles(f.dir / "s").size(), before);
  // The single-object path knows packed names too.
  ArchiveOptions o = f.Options();
  o.name = f.inputs[5].name;
  ArchiveResult r;
  ASSERT_TRUE(ArchiveFile(*f.store, f.inputs[5].source, o, &r).ok());
  EXPECT_TRUE(r.unchanged);
  EXPECT_EQ(r.packed_in, items[5].entry.pack);
  // Another file under a packed name: refused both ways, nothing written.
  WriteFile(f.inputs[5].source, "other content");
  f.inputs[5].size = 13;
  ASSERT_TRUE(f.Archive(&items).ok());
  EXPECT_EQ(items[5].status.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(items[5].status.message().find("already archived"), std::string::npos);
  EXPECT_EQ(ArchiveFile(*f.store, f.inputs[5].source, o, &r).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(testing::AllFiles(f.dir / "s").size(), before);
  // A bad name and a name given twice fail alone.
  f.inputs[6].name = std::string("bad\x01name");
  f.inputs[7].name = f.inputs[8].name;
  ASSERT_TRUE(f.Archive(&items).ok());
  EXPECT_EQ(items[6].status.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(items[8].status.code(), Status::Code::kInvalidArgument);
}

TEST(PackedFiles, DegradedPackRestoresAndFiveLostChunksFailCleanly) {
  PackFixture f(10);
  std::vector<PackedItem> items;
  ASSERT_TRUE(f.Archive(&items).ok());
  CatalogEntry pack;
  ASSERT_TRUE(f.store->FindObject(items[0].entry.pack, &pack).ok());
  for (int c : {0, 3, 9, 12}) testing::fs::remove(pack.manifest.chunks[c].path());
  for (const PackInput& in : f.inputs) {
    std::string got;
    RestoreResult r;
    ASSERT_TRUE(f.Restore(in.name, &got, &r).ok()) << in.name;
    EXPECT_EQ(got, f.files[in.name]);
    if (in.size > 0) EXPECT_FALSE(r.problems.empty());
  }
  testing::fs::remove(pack.manifest.chunks[5].path());
  std::string got;
  const Status s = f.Restore(f.inputs.back().name, &got);
  EXPECT_EQ(s.code(), Status::Code::kUnrecoverable) << s.ToString();
  EXPECT_FALSE(testing::fs::exists(f.dir / "out"));
}

TEST(PackedFiles, OrphanAndDamagedRecordsAreNamed) {
  PackFixture f(4);
  std::vector<PackedItem> items;
  ASSERT_TRUE(f.Archive(&items).ok());
  MemberEntry m;
  ASSERT_TRUE(FindMember(*f.store, f.inputs[1].name, &m).ok());
  // Every record copy damaged: Corruption, not "not found".
  for (const std::string& p : m.copies) testing::FlipByte(p, 20);
  MemberEntry again;
  EXPECT_EQ(FindMember(*f.store, f.inputs[1].name, &again).code(), Status::Code::kCorruption);
  std::string got;
  EXPECT_EQ(f.Restore(f.inputs[1].name, &got).code(), Status::Code::kCorruption);
  // The pack gone (its manifests removed): its records are orphans.
  CatalogEntry pack;
  ASSERT_TRUE(f.store->FindObject(items[2].entry.pack, &pack).ok());
  for (const std::string& p : pack.copies) testing::fs::remove(p);
  const Status s = FindMember(*f.store, f.inputs[2].name, &again);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("orphan"), std::string::npos) << s.ToString();
  Located l;
  EXPECT_NE(LocateName(*f.store, f.inputs[2].name, &l).message().find("orphan"), std::string::npos);
}

// A pack written with member records (index fls-pack/2) whose files lost
// their records (deleted: the records' tombstones are gone after the
// delete) gets none back: RecordPackMembers would otherwise resurrect
// deleted files. (Packs of fls-pack/1 do get theirs: v1_fixture_test,
// upgrade_test.)
TEST(PackedFiles, RecordPackMembersNeverResurrectsFilesOfARecordedPack) {
  PackFixture f(6);
  std::vector<PackedItem> items;
  ASSERT_TRUE(f.Archive(&items).ok());
  for (int i : {0, 2, 4}) {
    MemberEntry m;
    ASSERT_TRUE(FindMember(*f.store, f.inputs[i].name, &m).ok());
    for (const std::string& p : m.copies) testing::fs::remove(p);
  }
  CatalogEntry pack;
  ASSERT_TRUE(f.store->FindObject(items[0].entry.pack, &pack).ok());
  std::uint64_t written = 0;
  ASSERT_TRUE(RecordPackMembers(*f.store, pack, &written).ok());
  EXPECT_EQ(written, 0u);
  for (int i = 0; i < 6; ++i) {
    std::string got;
    EXPECT_EQ(f.Restore(f.inputs[i].name, &got).ok(), i % 2 == 1) << f.inputs[i].name;
  }
  ASSERT_TRUE(RecordPackMembers(*f.store, pack, &written).ok());
  EXPECT_EQ(written, 0u);
}

// A crash at any mutating step, then a reboot (what was not fsynced is
// lost): every file is either archived and restores bit-exact, or not
// archived at all; a rerun archives the rest.
TEST(PackedFiles, CrashAtAnyStepLeavesEachFileWholeOrAbsent) {
  int total = 0;
  {
    FaultInjectionEnv env(Env::Default());
    PackFixture probe(6, &env);
    std::vector<PackedItem> items;
    ASSERT_TRUE(probe.Archive(&items).ok());
    total = env.mutating_calls();
  }
  ASSERT_GT(total, 30);
  int whole = 0, absent = 0;
  for (int point = 0; point <= total; point += std::max(1, total / 20)) {
    FaultInjectionEnv env(Env::Default());
    PackFixture f(6, &env);
    env.SetCrashPoint(point);
    std::vector<PackedItem> items;
    f.Archive(&items);
    ASSERT_TRUE(env.DropUnsyncedData().ok());
    env.SetCrashPoint(-1);
    for (const PackInput& in : f.inputs) {
      std::string got;
      Status s = f.Restore(in.name, &got);
      if (s.code() == Status::Code::kNotFound) {
        ++absent;
        continue;
      }
      ASSERT_TRUE(s.ok()) << "crash point " << point << ", " << in.name << ": " << s.ToString();
      EXPECT_EQ(got, f.files[in.name]) << "crash point " << point;
      ++whole;
    }
    ASSERT_TRUE(f.Archive(&items).ok());
    for (std::size_t i = 0; i < items.size(); ++i)
      EXPECT_TRUE(items[i].status.ok())
          << "crash point " << point << ": " << items[i].status.ToString();
    for (const PackInput& in : f.inputs) {
      std::string got;
      ASSERT_TRUE(f.Restore(in.name, &got).ok()) << "after rerun, crash point " << point;
      EXPECT_EQ(got, f.files[in.name]);
    }
  }
  EXPECT_GT(whole, 0);
  EXPECT_GT(absent, 0);
}

// Faults through the Env seam: a member record that cannot be written fails
// that file alone and leaves none of its records; the pack's other files are
// archived. A full disk while restoring a packed file leaves no output.
TEST(PackedFaults, RecordWriteFailsOneFileAndRestoreToAFullDiskLeavesNothing) {
  FaultInjectionEnv env(Env::Default());
  PackFixture f(6, &env);
  FaultRule rule;
  rule.op = FaultOp::kSync;
  rule.path_contains = MemberRecordFileName(f.inputs[3].name);
  rule.error = 28;  // ENOSPC
  env.AddRule(rule);
  std::vector<PackedItem> items;
  ASSERT_TRUE(f.Archive(&items).ok());
  env.ClearRules();
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i == 3) {
      EXPECT_FALSE(items[i].status.ok());
      EXPECT_NE(items[i].status.message().find("member record of '" + f.inputs[3].name),
                std::string::npos)
          << items[i].status.ToString();
      continue;
    }
    ASSERT_TRUE(items[i].status.ok()) << items[i].status.ToString();
  }
  for (const auto& p : testing::AllFiles(f.dir / "s"))
    EXPECT_EQ(p.find(MemberRecordFileName(f.inputs[3].name)), std::string::npos) << p;
  std::string got;
  EXPECT_EQ(f.Restore(f.inputs[3].name, &got).code(), Status::Code::kNotFound);
  // Archived again: the file packs now (the dead bytes of the first pack stay
  // until compaction).
  ASSERT_TRUE(f.Archive(&items).ok());
  ASSERT_TRUE(items[3].status.ok()) << items[3].status.ToString();
  EXPECT_FALSE(items[3].unchanged);
  ASSERT_TRUE(f.Restore(f.inputs[3].name, &got).ok());
  EXPECT_EQ(got, f.files[f.inputs[3].name]);
  // Restore of a packed file into a full disk: an error naming it, no file.
  rule = FaultRule();
  rule.op = FaultOp::kWrite;
  rule.path_contains = f.dir / "";
  rule.error = 28;
  rule.short_write = true;
  env.AddRule(rule);
  const PackInput& big = f.inputs.back();
  const Status s = f.Restore(big.name, &got);
  env.ClearRules();
  EXPECT_EQ(s.code(), Status::Code::kNoSpace) << s.ToString();
  for (const auto& e : testing::fs::directory_iterator(f.dir.path()))
    EXPECT_EQ(e.path().filename().string().find("out"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace fls
