// Deleting (fls/delete.h) and compaction (fls/compact.h) on real stores:
// objects (one smaller than a stripe, one with a short last stripe) and
// packed files deleted and gone from every lookup, listing and target;
// retention; names archived again after a delete; a tombstone outranking a
// copy on a target that was away; compaction reclaiming the space of
// deleted packed files to within 5% of a store that only ever held the
// survivors; restores running during compaction. The crash and SIGKILL
// loops are in delete_crash_test.cc.
#include <atomic>
#include <thread>

#include "delete_test_util.h"
#include "fls/space_report.h"
#include "fls/time_text.h"

namespace fls::delete_test {
namespace {
TEST(Delete, ObjectsAndPackedFilesAreGoneEverywhere) {
  Fixture f(4, 20);
  ASSERT_TRUE(f.ArchiveAll().ok());
  const std::vector<std::string> victims = {"obj/0", "obj/1", "small/3", "small/7"};
  std::map<std::string, std::string> ids;
  for (const std::string& v : victims) ids[v] = IdOf(*f.store, v);
  ASSERT_TRUE(f.Delete(victims).ok());
  ExpectLiveAndGone(f, {victims.begin(), victims.end()}, "after rm");
  ExpectNoFilesOf(f, ids, "after rm (every target answers: nothing left)");
  // Missing names: NotFound, or nothing with force.
  EXPECT_EQ(f.Delete({"obj/0"}).code(), Status::Code::kNotFound);
  EXPECT_EQ(f.Delete({"no/such"}).code(), Status::Code::kNotFound);
  DeleteOptions force;
  force.force = true;
  EXPECT_TRUE(f.Delete({"obj/0", "small/3", "no/such"}, force).ok());
  // Packs are removed by compaction only.
  CatalogWalk walk;
  std::string pack;
  f.store->WalkCatalog(
      [&](CatalogEntry& e) {
        if (IsPackName(e.manifest.name)) pack = e.manifest.name;
        return true;
      },
      &walk);
  ASSERT_FALSE(pack.empty());
  EXPECT_EQ(f.Delete({pack}).code(), Status::Code::kInvalidArgument);
  // The names can be archived again, with other bytes.
  f.Add("obj/0", 5000, 77);
  f.Add("small/3", 300, 78);
  ArchiveOptions o = Options();
  o.name = "obj/0";
  ArchiveResult r;
  ASSERT_TRUE(ArchiveFile(*f.store, f.Src("obj/0"), o, &r).ok());
  o.name = "small/3";
  ASSERT_TRUE(ArchiveFile(*f.store, f.Src("small/3"), o, &r).ok());
  ExpectLiveAndGone(f, {"obj/1", "small/7"}, "after re-archive");
}

TEST(Delete, TombstoneOutranksAnOlderCopyOnATargetThatWasAway) {
  Fixture f(1, 0);
  ASSERT_TRUE(f.ArchiveAll().ok());
  CatalogEntry e;
  ASSERT_TRUE(f.store->FindObject("obj/0", &e).ok());
  const std::string away = e.copies[0], saved = away + ".saved";
  testing::fs::rename(away, saved);  // the target "was away" with an older copy
  const std::string target = DirName(away);
  testing::fs::rename(target + "/fls-target.json", target + "/id.saved");
  ASSERT_TRUE(f.Delete({"obj/0"}).ok());
  testing::fs::rename(saved, away);
  testing::fs::rename(target + "/id.saved", target + "/fls-target.json");
  // The tombstone stayed (a target did not answer) and wins over the copy.
  ExpectLiveAndGone(f, {"obj/0"}, "target back");
  ASSERT_TRUE(RepairSweep(*f.store).ok());
  ExpectLiveAndGone(f, {"obj/0"}, "after sweep");
  EXPECT_EQ(f.FilesNaming(NameHash("obj/0")), 0);
}

TEST(Delete, RetentionRefusesUntilOverridden) {
  Fixture f(1, 3);
  ArchiveOptions o = Options();
  ASSERT_TRUE(ParseTimeText("2099-01-01", &o.retain_until_ns).ok());
  ASSERT_TRUE(f.ArchiveAll(o).ok());
  for (const std::string& name : {"obj/0", "small/1"}) {
    DeleteResult seen;
    Status st;
    ASSERT_TRUE(DeleteNames(*f.store, {name}, {}, 0,
                            [&](std::size_t, const Status& s, const DeleteResult& r) {
                              st = s;
                              seen = r;
                            })
                    .ok());
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << name;
    EXPECT_TRUE(seen.retained);
    EXPECT_NE(st.ToString().find("2099-01-01T00:00:00Z"), std::string::npos) << st.ToString();
    std::string got;
    EXPECT_TRUE(f.Read(name, &got).ok()) << name << " must survive a refused rm";
    DeleteOptions now_later;
    now_later.now_ns = o.retain_until_ns + 1;  // the date has passed
    EXPECT_TRUE(f.Delete({name}, now_later).ok()) << name;
  }
  DeleteOptions over;
  over.override_retention = true;
  EXPECT_TRUE(f.Delete({"small/2"}, over).ok());
  ExpectLiveAndGone(f, {"obj/0", "small/1", "small/2"}, "retention");
}

TEST(Delete, TimeTextParsesDatesAndRefusesTheRest) {
  std::int64_t ns = 0;
  ASSERT_TRUE(ParseTimeText("2027-03-01", &ns).ok());
  EXPECT_EQ(FormatTimeNs(ns), "2027-03-01T00:00:00Z");
  ASSERT_TRUE(ParseTimeText("2027-03-01T12:30:05+02:00", &ns).ok());
  EXPECT_EQ(FormatTimeNs(ns), "2027-03-01T10:30:05Z");
  ASSERT_TRUE(ParseTimeText("2024-02-29T23:59Z", &ns).ok());
  for (const char* bad : {"2027-02-30", "2027-13-01", "27-01-01", "2027-01-01T10:00",
                          "2027-01-01T25:00Z", "tomorrow", ""})
    EXPECT_EQ(ParseTimeText(bad, &ns).code(), Status::Code::kInvalidArgument) << bad;
}

// A crash after every mutating call of one delete of two objects and two
// packed files: each name is whole or gone, never half; a repair sweep then
// leaves no file of the deleted ones.
// Half the packed files deleted, then compaction: the dead bytes go, every
// survivor restores, and the bytes on the targets come within 5% of a store
// that only ever held the survivors.
TEST(Compact, ReclaimsDeletedFilesToWithinFivePercentOfTheSurvivors) {
  Fixture f(0, 160);
  ASSERT_TRUE(f.ArchiveAll().ok());
  std::vector<std::string> victims;
  for (std::size_t i = 0; i < f.packed.size(); i += 2) victims.push_back(f.packed[i]);
  ASSERT_TRUE(f.Delete(victims).ok());
  const std::uint64_t before = f.AllocatedBytes();
  SpaceReport df_before, df_after;
  ASSERT_TRUE(ReportSpace(*f.store, &df_before).ok());
  EXPECT_GT(df_before.total.dead, 0u);
  EXPECT_EQ(df_before.dead_members, victims.size());
  CompactOptions co;
  co.min_age_ns = 0;
  co.min_dead = 0.3;
  co.archive = Options();
  CompactReport r;
  ASSERT_TRUE(CompactStore(*f.store, co, &r).ok());
  EXPECT_TRUE(r.failures.empty());
  EXPECT_EQ(r.packs_rewritten, r.packs);
  EXPECT_GT(r.dead_bytes, 0u);
  EXPECT_EQ(r.dead_bytes_reclaimed, r.dead_bytes);
  ExpectLiveAndGone(f, {victims.begin(), victims.end()}, "after compact");
  const std::uint64_t after = f.AllocatedBytes();
  ASSERT_TRUE(ReportSpace(*f.store, &df_after).ok());
  EXPECT_EQ(df_after.total.dead, 0u);  // what `fls df` shows
  EXPECT_EQ(df_after.dead_members, 0u);
  EXPECT_LT(df_after.overhead_ratio, df_before.overhead_ratio);
  // The same survivors archived into a fresh store.
  Fixture fresh(0, 0, Env::Default(), "fresh");
  for (std::size_t i = 1; i < f.packed.size(); i += 2) {
    fresh.files[f.packed[i]] = f.files[f.packed[i]];
    fresh.packed.push_back(f.packed[i]);
    WriteFile(fresh.Src(f.packed[i]), f.files[f.packed[i]]);
  }
  ASSERT_TRUE(fresh.ArchiveAll().ok());
  std::uint64_t baseline = 0;
  for (const std::string& p : testing::AllFiles(fresh.dir / "fresh")) {
    struct stat st;
    if (::stat(p.c_str(), &st) == 0) baseline += static_cast<std::uint64_t>(st.st_blocks) * 512;
  }
  std::printf("compact: %llu bytes before, %llu after, %llu for the survivors alone\n",
              static_cast<unsigned long long>(before), static_cast<unsigned long long>(after),
              static_cast<unsigned long long>(baseline));
  EXPECT_LT(after, before);
  EXPECT_LE(static_cast<double>(after), 1.05 * static_cast<double>(baseline));
  // A second run finds nothing to do.
  ASSERT_TRUE(CompactStore(*f.store, co, &r).ok());
  EXPECT_EQ(r.packs_rewritten + r.packs_removed, 0u);
}

// A packed file whose every record copy is unreadable is neither live nor
// dead: compaction must not delete its pack (the pack's bytes and index are
// what can bring it back). The pack stays, compaction reports it, and once
// the records are readable again it is compacted and the file restores.
TEST(Compact, APackWithAFileOfUnreadableRecordsIsKept) {
  Fixture f(0, 12);
  ASSERT_TRUE(f.ArchiveAll().ok());
  ASSERT_TRUE(f.Delete({f.packed[0]}).ok());
  const std::string judged = f.packed[1];
  std::map<std::string, std::string> saved;  // record copy -> its bytes
  for (const std::string& p : testing::AllFiles(f.dir / "s"))
    if (testing::fs::path(p).filename() == MemberRecordFileName(judged)) {
      saved[p] = testing::ReadFile(p);
      WriteFile(p, "{not a record");
    }
  ASSERT_EQ(saved.size(), 5u);  // m + 1 copies
  CompactOptions co;
  co.min_age_ns = 0;
  co.min_dead = 0;
  co.archive = Options();
  CompactReport r;
  ASSERT_TRUE(CompactStore(*f.store, co, &r).ok());
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_NE(r.failures[0].find(judged), std::string::npos) << r.failures[0];
  EXPECT_EQ(r.packs_rewritten + r.packs_removed, 0u);
  for (const auto& [path, bytes] : saved) WriteFile(path, bytes);
  ASSERT_TRUE(CompactStore(*f.store, co, &r).ok());
  EXPECT_TRUE(r.failures.empty()) << r.failures.front();
  EXPECT_EQ(r.packs_rewritten, 1u);
  ExpectLiveAndGone(f, {f.packed[0]}, "after compact");
}

// A crash after every mutating call of a compaction: every live file
// restores; a repair sweep then leaves no old pack behind.
// Restores of live packed files while compaction moves them never fail.
TEST(Compact, RestoresDuringCompactionNeverFail) {
  Fixture f(0, 96);
  ASSERT_TRUE(f.ArchiveAll().ok());
  std::vector<std::string> victims, live;
  for (std::size_t i = 0; i < f.packed.size(); ++i) (i % 2 ? live : victims).push_back(f.packed[i]);
  ASSERT_TRUE(f.Delete(victims).ok());
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, failures{0};
  std::string first_failure;
  std::thread reader([&] {
    for (int round = 0; round < 200 && !done.load(); ++round)
      for (const std::string& n : live) {
        std::string got;
        Status s = f.Read(n, &got);
        ++reads;
        if (!s.ok() || got != f.files[n]) {
          if (failures++ == 0) first_failure = n + ": " + s.ToString();
        }
      }
  });
  CompactOptions co;
  co.min_age_ns = 0;
  co.archive = Options();
  CompactReport r;
  Status s = CompactStore(*f.store, co, &r);
  done = true;
  reader.join();
  ASSERT_TRUE(s.ok());
  EXPECT_GT(r.packs_rewritten, 0u);
  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_GT(reads.load(), 0);
  ExpectLiveAndGone(f, {victims.begin(), victims.end()}, "after compact");
}

// `fls rm` and `fls compact` killed with SIGKILL at random points (fixed
// seed), 30 runs each: every name whole or gone; after a sweep (and, for
// compaction, a finishing run) nothing of the deleted names or old packs.
}  // namespace
}  // namespace fls::delete_test
