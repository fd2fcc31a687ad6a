// DamageRecorder (host/cli/mount_health.h) and HealthDb::RecordDamageSeen on
// a real SQLite file: findings merged per chunk, the queue's bound, a
// database that cannot be written (logged, never thrown), an older
// generation's rows replaced, and an interrupted sweep made to check the
// object again.
#include <gtest/gtest.h>

#include <mutex>

#include "archive_test_util.h"
#include "fls/health_db.h"
#include "host/cli/mount_health.h"

namespace fls {
namespace {

using testing::TempDir;

Manifest FakeManifest(std::uint8_t id_byte, std::uint64_t generation, const std::string& root) {
  Manifest mf;
  mf.name = "obj" + std::to_string(id_byte);
  mf.id.fill(id_byte);
  mf.k = 10;
  mf.m = 4;
  mf.size = 1000;
  mf.generation = generation;
  for (int i = 0; i < 14; ++i) {
    ManifestChunk c;
    c.index = i;
    c.target = root + "/t" + std::to_string(i);
    c.domain = "d" + std::to_string(i);
    c.file = "c" + std::to_string(i);
    mf.chunks.push_back(c);
  }
  return mf;
}

StreamDamage Bad(int chunk, std::optional<std::uint64_t> stripe, const char* state = "damaged") {
  StreamDamage d;
  d.chunk = chunk;
  d.state = state;
  if (stripe) d.stripes.push_back(*stripe);
  return d;
}

ObjectHealth Load(const std::string& db_path, const Manifest& mf, bool* found) {
  std::unique_ptr<HealthDb> db;
  EXPECT_TRUE(HealthDb::Open(db_path, &db).ok());
  ObjectHealth o;
  EXPECT_TRUE(db->LoadObject(ObjectIdToHex(mf.id), &o, found).ok());
  return o;
}

TEST(DamageRecorder, MergesFindingsAndComputesSpare) {
  TempDir t;
  const std::string db = t / "h.db";
  std::vector<std::string> log;
  std::mutex mu;
  cli::DamageRecorder r(db, [&](const std::string& l) {
    std::lock_guard<std::mutex> g(mu);
    log.push_back(l);
  });
  const Manifest mf = FakeManifest(1, 3, t.path());
  r.Add(mf, Bad(2, 7));
  r.Add(mf, Bad(2, 9));
  r.Add(mf, Bad(2, 7));  // already queued: dropped here
  r.Add(mf, Bad(4, 7));
  r.Add(mf, Bad(6, std::nullopt, "missing"));
  r.Start();
  r.Stop();
  EXPECT_EQ(r.written(), 3u);
  EXPECT_EQ(r.dropped(), 0u);
  bool found = false;
  ObjectHealth o = Load(db, mf, &found);
  ASSERT_TRUE(found);
  EXPECT_EQ(o.health, "degraded");
  EXPECT_EQ(o.spare, 4 - 1 - 2);  // chunk 6 whole, stripe 7 in chunks 2 and 4
  EXPECT_EQ(o.generation, 3u);
  // Another run meets more of the same generation: merged with the rows.
  cli::DamageRecorder again(db, nullptr);
  again.Start();
  again.Add(mf, Bad(8, 9));
  again.Add(mf, Bad(10, 7));
  again.Stop();
  o = Load(db, mf, &found);
  EXPECT_EQ(o.spare, 4 - 1 - 3);
  // Five bad blocks in stripe 7: unrecoverable.
  cli::DamageRecorder third(db, nullptr);
  third.Start();
  third.Add(mf, Bad(11, 7));
  third.Stop();
  o = Load(db, mf, &found);
  EXPECT_EQ(o.health, "unrecoverable");
  EXPECT_EQ(o.spare, -1);
  // A new generation: the old rows described other chunk files.
  const Manifest next = FakeManifest(1, 4, t.path());
  cli::DamageRecorder fourth(db, nullptr);
  fourth.Start();
  fourth.Add(next, Bad(0, 1));
  fourth.Stop();
  o = Load(db, next, &found);
  EXPECT_EQ(o.generation, 4u);
  EXPECT_EQ(o.spare, 3);
  EXPECT_EQ(o.health, "degraded");
  EXPECT_TRUE(log.empty());
}

TEST(DamageRecorder, BoundedQueueDropsAndLogsOnce) {
  TempDir t;
  std::vector<std::string> log;
  cli::DamageRecorder r(
      t / "h.db", [&](const std::string& l) { log.push_back(l); }, 2);
  const Manifest mf = FakeManifest(2, 1, t.path());
  // Not started: nothing drains the queue.
  r.Add(mf, Bad(0, 1));
  r.Add(mf, Bad(0, 2));  // the same chunk: merged, takes no room
  r.Add(mf, Bad(1, 1));
  r.Add(mf, Bad(3, 1));
  r.Add(mf, Bad(5, 1));
  EXPECT_EQ(r.dropped(), 2u);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("dropped"), std::string::npos);
  r.Start();
  r.Stop();
  EXPECT_EQ(r.written(), 2u);
  bool found = false;
  EXPECT_EQ(Load(t / "h.db", mf, &found).spare, 4 - 2);
}

TEST(DamageRecorder, UnwritableDatabaseIsLoggedNotThrown) {
  TempDir t;
  testing::WriteFile(t / "plain", "x");
  const std::string db = t / "plain/h.db";  // under a regular file
  EXPECT_FALSE(cli::DamageRecorder::CheckDatabase(db).ok());
  std::vector<std::string> log;
  std::mutex mu;
  cli::DamageRecorder r(db, [&](const std::string& l) {
    std::lock_guard<std::mutex> g(mu);
    log.push_back(l);
  });
  r.Start();
  r.Add(FakeManifest(3, 1, t.path()), Bad(0, std::nullopt, "missing"));
  r.Stop();
  EXPECT_EQ(r.written(), 0u);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("was not recorded"), std::string::npos) << log[0];
  EXPECT_NE(log[0].find(db), std::string::npos) << log[0];
}

TEST(HealthDbDamage, AnInterruptedSweepChecksTheObjectAgain) {
  TempDir t;
  std::unique_ptr<HealthDb> db;
  ASSERT_TRUE(HealthDb::Open(t / "h.db", &db).ok());
  const Manifest mf = FakeManifest(4, 1, t.path());
  std::int64_t id = 0;
  bool resumed = false;
  std::set<std::string> done;
  ASSERT_TRUE(db->BeginSweep("repair", true, &id, &resumed, &done).ok());
  HealthDb::ObjectRecord rec;
  rec.manifest = mf;
  rec.report.id = ObjectIdToHex(mf.id);
  rec.report.name = mf.name;
  for (int i = 0; i < 14; ++i) rec.report.chunks.push_back(ChunkReport{i, "p", "ok", "", {}});
  ASSERT_TRUE(db->RecordObjects({rec}, id).ok());
  ASSERT_TRUE(db->BeginSweep("repair", true, &id, &resumed, &done).ok());
  EXPECT_EQ(done.count(rec.report.id), 1u);
  ChunkReport bad{3, "p", "damaged", "CRC mismatch", {5}};
  ASSERT_TRUE(db->RecordDamageSeen(mf, {bad}).ok());
  ASSERT_TRUE(db->BeginSweep("repair", true, &id, &resumed, &done).ok());
  EXPECT_TRUE(resumed);
  EXPECT_EQ(done.count(rec.report.id), 0u);
  // The sweep's "ok" rows stay; the damaged chunk joins them.
  ObjectHealth o;
  bool found = false;
  ASSERT_TRUE(db->LoadObject(rec.report.id, &o, &found).ok());
  EXPECT_EQ(o.spare, 3);
  std::vector<TargetHealth> targets;
  ASSERT_TRUE(db->LoadTargets(&targets).ok());
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].path, mf.chunks[3].target);
  EXPECT_EQ(targets[0].bad_chunks, 1);
  EXPECT_EQ(targets[0].errors, 1);
  // Met again (another mount): the same chunk is not counted twice.
  ASSERT_TRUE(db->RecordDamageSeen(mf, {bad}).ok());
  ASSERT_TRUE(db->LoadTargets(&targets).ok());
  EXPECT_EQ(targets[0].errors, 1);
}

}  // namespace
}  // namespace fls
