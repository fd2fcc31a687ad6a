// Rebalance (fls/rebalance.h): objects archived over 12 targets in 4 failure
// domains, 4 empty targets added (one per domain), chunks moved until every
// target is within 10% of the mean chunk bytes. Checked from the files on
// disk, not from what rebalance reports:
//   - usage: |bytes of chunk files on t - mean| <= 10% of the mean, every t;
//   - a reader thread restores random objects bit-exact throughout the run;
//   - afterwards every object restores bit-exact and verifies healthy, no
//     object's target or domain fault tolerance went down, no temporary, no
//     chunk file the manifests do not place, no older manifest copy;
//   - a dry run changes nothing; `fls rebalance` killed with SIGKILL at random
//     points leaves every object restorable and the next run completes;
//   - ENOSPC on a destination: an error naming it, nothing half-done left;
//   - a damaged source chunk is not moved, and is reported for repair;
//   - the catalogue finds an object whose listed manifest copies were
//     replaced by a newer generation before they could be read.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "archive_test_util.h"
#include "fls/fault_injection_env.h"
#include "fls/rebalance.h"
#include "fls/thread_pool.h"
#include "host/archive/maintenance_lock.h"
#include "host/archive/manifest_commit.h"
#include "test_paths.h"

namespace fls {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;
namespace fs = std::filesystem;

constexpr int kOldTargets = 12, kNewTargets = 4, kDomains = 4;

std::vector<Target> TargetsUnder(const std::string& root, int n) {
  std::vector<Target> t;
  for (int i = 0; i < n; ++i) {
    const std::string p = root + "/t" + std::to_string(i);
    fs::create_directories(p);
    t.push_back({p, "d" + std::to_string(i % kDomains)});
  }
  return t;
}

std::unique_ptr<Store> StoreOf(const std::vector<Target>& targets, Env* env = Env::Default()) {
  std::unique_ptr<Store> s;
  EXPECT_TRUE(Store::FromTargets(env, targets, &s).ok());
  return s;
}

// `count` objects of mixed sizes (1 KiB .. 121 KiB, every tenth 300 KiB),
// 4+2 with 16 KiB stripes, archived four at a time.
std::map<std::string, std::string> ArchiveObjects(const Store& store, const std::string& root,
                                                  int count) {
  std::map<std::string, std::string> data;
  std::vector<std::string> names;
  std::mt19937_64 rng(20261201);
  fs::create_directories(root + "/src");
  for (int i = 0; i < count; ++i) {
    const std::size_t size = i % 10 == 0 ? (300 << 10) + i : 1024 + rng() % (120 << 10);
    const std::string name = "obj" + std::to_string(i);
    data[name] = testing::RandomBytes(size, 1000 + i);
    WriteFile(root + "/src/" + name, data[name]);
    names.push_back(name);
  }
  ThreadPool pool(4);
  pool.Run(names.size(), [&](std::size_t i) {
    ArchiveOptions o;
    o.k = 4;
    o.m = 2;
    o.stripe_width = 16 << 10;
    o.threads = 1;
    o.name = names[i];
    ArchiveResult r;
    Status s = ArchiveFile(store, root + "/src/" + names[i], o, &r);
    EXPECT_TRUE(s.ok()) << names[i] << ": " << s.ToString();
  });
  return data;
}

bool IsChunkName(const std::string& n) {
  ObjectId id;
  int index = 0;
  return ParseChunkFileName(n, &id, &index);
}

// Bytes of the chunk files in each target directory, read from the disk.
std::vector<std::uint64_t> ChunkBytesOnDisk(const std::vector<Target>& targets) {
  std::vector<std::uint64_t> out;
  for (const Target& t : targets) {
    std::uint64_t b = 0;
    for (const auto& e : fs::directory_iterator(t.path))
      if (IsChunkName(e.path().filename().string())) b += e.file_size();
    out.push_back(b);
  }
  return out;
}

// Every target within `tol` of the mean: |u - mean| <= tol * mean.
void ExpectWithin(const std::vector<std::uint64_t>& usage, double tol) {
  double mean = 0;
  for (auto u : usage) mean += static_cast<double>(u);
  mean /= usage.size();
  ASSERT_GT(mean, 0);
  for (std::size_t t = 0; t < usage.size(); ++t)
    EXPECT_LE(std::fabs(static_cast<double>(usage[t]) - mean), tol * mean)
        << "target t" << t << " holds " << usage[t] << " bytes, mean " << mean;
}

std::map<std::string, FaultTolerance> Tolerances(const Store& store) {
  std::map<std::string, FaultTolerance> out;
  for (const CatalogEntry& e : store.ReadCatalog().objects) {
    std::vector<std::string> t, d;
    for (const ManifestChunk& c : e.manifest.chunks) {
      t.push_back(c.target);
      d.push_back(c.domain);
    }
    out[e.manifest.name] = ToleranceOf(t, d, e.manifest.m);
  }
  return out;
}

// Every object of `data` restores bit-exact (four restores at a time).
void ExpectRestoresExactly(const Store& store, const std::map<std::string, std::string>& data,
                           const std::string& out, const std::string& when) {
  std::vector<const std::pair<const std::string, std::string>*> items;
  for (const auto& kv : data) items.push_back(&kv);
  std::mutex mu;
  std::vector<std::string> bad;
  ThreadPool pool(4);
  pool.Run(items.size(), [&](std::size_t i) {
    const auto& [name, bytes] = *items[i];
    RestoreOptions ro;
    ro.output = out + "." + std::to_string(i);
    ro.threads = 1;
    RestoreResult rr;
    Status s = RestoreObject(store, name, ro, &rr);
    const bool exact = s.ok() && ReadFile(ro.output) == bytes;
    fs::remove(ro.output);
    if (exact) return;
    std::lock_guard<std::mutex> lock(mu);
    bad.push_back(name + ": " + (s.ok() ? "not bit-exact" : s.ToString()));
  });
  EXPECT_TRUE(bad.empty()) << when << ": " << bad.size() << " objects fail, first " << bad[0];
}

// The store holds exactly what the newest manifests name: each chunk file at
// the place its manifest gives, no other chunk file, no older manifest copy,
// no temporary; and every object verifies healthy.
void ExpectTidyAndHealthy(const Store& store) {
  Catalog cat = store.ReadCatalog();
  EXPECT_TRUE(cat.warnings.empty()) << cat.warnings.front();
  std::set<std::string> placed;
  std::size_t manifest_copies = 0;
  for (const CatalogEntry& e : cat.objects) {
    for (const ManifestChunk& c : e.manifest.chunks) placed.insert(c.path());
    manifest_copies += e.copies.size();
    EXPECT_TRUE(e.stale_copies.empty()) << e.manifest.name << ": " << e.stale_copies.front();
    EXPECT_EQ(e.copies.size(), e.manifest.manifest_targets.size()) << e.manifest.name;
    ObjectReport r;
    ASSERT_TRUE(VerifyObject(store, e, VerifyOptions{}, &r).ok());
    EXPECT_EQ(r.health, Health::kHealthy)
        << e.manifest.name << ": " << (r.notes.empty() ? "" : r.notes.front());
  }
  std::size_t chunk_files = 0, manifests = 0;
  for (const Target& t : store.targets()) {
    for (const auto& e : fs::directory_iterator(t.path)) {
      const std::string n = e.path().filename().string();
      EXPECT_FALSE(IsTempName(n)) << "temporary left: " << e.path();
      if (IsChunkName(n)) {
        ++chunk_files;
        EXPECT_TRUE(placed.count(e.path().string())) << "orphan chunk file: " << e.path();
      }
      if (n.size() > 9 && n.compare(n.size() - 9, 9, ".manifest") == 0) ++manifests;
    }
  }
  EXPECT_EQ(chunk_files, placed.size());
  EXPECT_EQ(manifests, manifest_copies);
}

// What an interrupted run may leave: temporaries, older manifest copies and
// chunk files no manifest places.
int Leftovers(const Store& store) {
  int n = 0;
  std::set<std::string> placed;
  for (const CatalogEntry& e : store.ReadCatalog().objects) {
    n += static_cast<int>(e.stale_copies.size());
    for (const ManifestChunk& c : e.manifest.chunks) placed.insert(c.path());
  }
  for (const Target& t : store.targets())
    for (const auto& e : fs::directory_iterator(t.path)) {
      const std::string name = e.path().filename().string();
      n += IsTempName(name) || (IsChunkName(name) && !placed.count(e.path().string()));
    }
  return n;
}

// Path -> (size, mtime) of every file under `root`.
std::map<std::string, std::pair<std::uintmax_t, fs::file_time_type>> Snapshot(
    const std::string& root) {
  std::map<std::string, std::pair<std::uintmax_t, fs::file_time_type>> out;
  for (const auto& p : testing::AllFiles(root)) out[p] = {fs::file_size(p), fs::last_write_time(p)};
  return out;
}

TEST(RebalancePlan, NeverLowersDomainToleranceAndEvensOut) {
  // d0: t0 (full), t1 (new); d1: t2 (full), t3 (new). Objects 1+1, one chunk
  // per domain: moving t0 -> t3 would put both in d1 and is not allowed.
  std::vector<Target> targets = {{"/t0", "d0"}, {"/t1", "d0"}, {"/t2", "d1"}, {"/t3", "d1"}};
  std::vector<PlanObject> objects;
  for (int i = 0; i < 40; ++i)
    objects.push_back({"o" + std::to_string(i), 1, {0, 2}, {1000, 1000}, true});
  const std::vector<bool> usable(4, true);
  const std::vector<std::uint64_t> free(4, 1 << 30);
  auto plan = PlanRebalance(targets, usable, free, objects, 0.10, 0);
  std::vector<std::uint64_t> usage = {40000, 0, 40000, 0};
  for (const PlannedMove& p : plan) {
    const int from = objects[p.object].chunk_target[p.chunk];
    EXPECT_EQ(targets[from].domain, targets[p.to].domain) << "move " << from << " -> " << p.to;
    usage[from] -= 1000;
    usage[p.to] += 1000;
  }
  EXPECT_LE(UsageSpread(usage, usable), 0.10);
  // A cap on the moves is honoured; a target that is gone takes nothing.
  EXPECT_EQ(PlanRebalance(targets, usable, free, objects, 0.10, 3).size(), 3u);
  plan = PlanRebalance(targets, {true, false, true, true}, free, objects, 0.10, 0);
  for (const PlannedMove& p : plan) EXPECT_NE(p.to, 1);
}

// An Env that, the first time a generation-1 path-addressed manifest is about
// to be read, plays a writer committing generation 2 and removing generation
// 1: the catalogue listed copies that are gone when it reads them. (Manifests
// are opened with NewRandomAccessFileNoFollow. Version 3 copies are replaced
// in place, one name per object, so a reader finds a copy of one generation
// or the other: see the next test.)
class CommitWhileListingEnv : public EnvWrapper {
 public:
  using EnvWrapper::EnvWrapper;
  Status NewRandomAccessFileNoFollow(const std::string& path,
                                     std::unique_ptr<RandomAccessFile>* file,
                                     FileInfo* info) override {
    const std::string g1 = ".g1.manifest";
    if (!done_ && path.size() > g1.size() &&
        path.compare(path.size() - g1.size(), g1.size(), g1) == 0) {
      done_ = true;
      std::string text;
      Manifest mf;
      EXPECT_TRUE(ReadWholeFile(target(), path, &text).ok());
      EXPECT_TRUE(DecodeManifest(text, &mf).ok());
      const Manifest old = mf;
      mf.generation = 2;
      std::vector<std::string> written;
      EXPECT_TRUE(internal::CommitManifest(target(), mf, &written).ok());
      for (const std::string& t : old.manifest_targets)
        EXPECT_TRUE(target()->RemoveFile(JoinPath(t, ManifestFileName(old.id, 1))).ok());
    }
    return EnvWrapper::NewRandomAccessFileNoFollow(path, file, info);
  }

 private:
  bool done_ = false;
};

TEST(RebalanceCatalog, ManifestReplacedBetweenListingAndReadingIsFound) {
  TempDir dir;
  const auto targets = TargetsUnder(dir.path(), 8);
  ArchiveObjects(*StoreOf(targets), dir.path(), 1);
  testing::MakePathAddressed(*StoreOf(targets), "obj0");
  testing::DropIdentities(targets);
  CommitWhileListingEnv env(Env::Default());
  auto store = StoreOf(targets, &env);
  Catalog cat = store->ReadCatalog();
  ASSERT_EQ(cat.objects.size(), 1u) << "the object vanished from the catalogue";
  EXPECT_EQ(cat.objects[0].manifest.generation, 2u);
  EXPECT_TRUE(cat.objects[0].problems.empty()) << cat.objects[0].problems.front();
  EXPECT_TRUE(cat.warnings.empty()) << cat.warnings.front();
}

// Version 2: while a lookup reads the copies, a writer commits generation 2
// on a target set that differs in up to m places (what a repair or a
// rebalance round can change) and removes the copies it no longer uses.
// The lookup finds the object, at one generation or the other.
class CommitWhileReadingEnv : public EnvWrapper {
 public:
  CommitWhileReadingEnv(Env* base, const Store* store) : EnvWrapper(base), store_(store) {}
  Status GetFileInfo(const std::string& path, FileInfo* info) override {
    std::string hash;
    if (!done_ && ParseNameManifestFileName(BaseName(path), &hash) && ++reads_ == trigger_) {
      done_ = true;
      CatalogEntry e;
      EXPECT_TRUE(store_->FindObject("obj0", &e).ok());
      Manifest next = e.manifest;
      next.generation = 2;
      // Keep one old copy target, replace the others by targets not used yet.
      std::vector<std::string> ids = {next.manifest_target_ids[0]};
      std::vector<std::string> paths = {next.manifest_targets[0]};
      for (std::size_t t = 0; t < store_->targets().size() && ids.size() < 3; ++t) {
        const std::string& p = store_->targets()[t].path;
        if (std::find(next.manifest_targets.begin(), next.manifest_targets.end(), p) ==
            next.manifest_targets.end()) {
          ids.push_back(store_->TargetId(static_cast<int>(t)));
          paths.push_back(p);
        }
      }
      next.manifest_target_ids = ids;
      next.manifest_targets = paths;
      std::vector<std::string> written;
      EXPECT_TRUE(internal::CommitManifest(target(), next, &written).ok());
      internal::RemoveSupersededCopies(target(), e, written);
    }
    return EnvWrapper::GetFileInfo(path, info);
  }
  void Arm(int trigger) {
    trigger_ = trigger;
    reads_ = 0;
    done_ = false;
  }

 private:
  const Store* store_;
  int trigger_ = 0, reads_ = 0;
  bool done_ = false;
};

TEST(RebalanceCatalog, ManifestReplacedWhileALookupReadsItIsFound) {
  for (int trigger = 1; trigger <= 8; ++trigger) {
    TempDir dir;
    const auto targets = TargetsUnder(dir.path(), 8);
    ArchiveObjects(*StoreOf(targets), dir.path(), 1);
    auto plain = StoreOf(targets);
    CommitWhileReadingEnv env(Env::Default(), plain.get());
    auto store = StoreOf(targets, &env);
    env.Arm(trigger);
    CatalogEntry e;
    Status s = store->FindObject("obj0", &e);
    ASSERT_TRUE(s.ok()) << "trigger " << trigger << ": " << s.ToString();
    EXPECT_GE(e.manifest.generation, 1u);
  }
}

TEST(Rebalance, OntoFourNewTargetsWithConcurrentReader) {
  TempDir dir;
  const auto targets = TargetsUnder(dir.path(), kOldTargets + kNewTargets);
  auto old_store = StoreOf(std::vector<Target>(targets.begin(), targets.begin() + kOldTargets));
  const auto data = ArchiveObjects(*old_store, dir.path(), 96);
  auto store = StoreOf(targets);
  const auto before = Tolerances(*store);
  const auto disk_before = ChunkBytesOnDisk(targets);
  for (int t = kOldTargets; t < kOldTargets + kNewTargets; ++t) ASSERT_EQ(disk_before[t], 0u);

  // The reader: random objects, bit-exact, until the rebalance is over.
  std::atomic<bool> stop{false};
  std::atomic<int> commits{0};
  int reads = 0, reads_during_commits = 0;
  std::vector<std::string> failures;
  std::vector<std::string> names;
  for (const auto& [n, b] : data) names.push_back(n);
  std::thread reader([&] {
    std::mt19937 rng(5);
    for (int i = 0; i < 2000 && !stop.load(); ++i) {
      const std::string& name = names[rng() % names.size()];
      const int commits_at_start = commits.load();
      RestoreOptions ro;
      ro.output = dir / "reader.out";
      ro.threads = 1;
      RestoreResult rr;
      Status s = RestoreObject(*store, name, ro, &rr);
      if (!s.ok())
        failures.push_back(name + ": " + s.ToString());
      else if (ReadFile(ro.output) != data.at(name))
        failures.push_back(name + ": restored bytes differ");
      ++reads;
      reads_during_commits += commits.load() != commits_at_start;
    }
  });
  RebalanceOptions opt;
  opt.on_commit = [&](const std::vector<RebalanceMove>&) { ++commits; };
  RebalanceResult r;
  const auto t0 = std::chrono::steady_clock::now();
  Status s = RebalanceStore(*store, opt, &r);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop = true;
  reader.join();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed reads, first: " << failures[0];
  EXPECT_GT(reads_during_commits, 0) << "the reader never overlapped a commit";
  EXPECT_TRUE(r.balanced);
  EXPECT_TRUE(r.skipped.empty());
  EXPECT_GT(r.moved.size(), 0u);
  EXPECT_EQ(r.moved.size(), r.planned.size());

  const auto disk_after = ChunkBytesOnDisk(targets);
  ExpectWithin(disk_after, 0.10);
  std::uint64_t total_before = 0, total_after = 0;
  for (int t = 0; t < kOldTargets + kNewTargets; ++t) {
    total_before += disk_before[t];
    total_after += disk_after[t];
    EXPECT_EQ(r.targets[t].after, disk_after[t]) << "reported usage of t" << t;
  }
  EXPECT_EQ(total_before, total_after);
  for (const auto& [name, tol] : Tolerances(*store)) {
    EXPECT_GE(tol.targets, before.at(name).targets) << name;
    EXPECT_GE(tol.domains, before.at(name).domains) << name;
  }
  ExpectRestoresExactly(*store, data, dir / "out.bin", "after rebalance");
  ExpectTidyAndHealthy(*store);
  std::printf(
      "rebalance: %zu objects, %zu chunk moves in %d commits, %llu bytes in %.2f s; spread "
      "%.1f%% -> %.1f%%; reader: %d restores (%d overlapping a commit)\n",
      data.size(), r.moved.size(), r.objects_committed,
      static_cast<unsigned long long>(r.bytes_moved), secs, 100 * r.spread_before,
      100 * r.spread_after, reads, reads_during_commits);

  // Balanced now: a second run has nothing to do.
  RebalanceResult again;
  ASSERT_TRUE(RebalanceStore(*store, opt, &again).ok());
  EXPECT_TRUE(again.moved.empty());
  EXPECT_TRUE(again.balanced);
}

TEST(Rebalance, DryRunChangesNothing) {
  TempDir dir;
  const auto targets = TargetsUnder(dir.path(), kOldTargets + kNewTargets);
  ArchiveObjects(*StoreOf(std::vector<Target>(targets.begin(), targets.begin() + kOldTargets)),
                 dir.path(), 30);
  auto store = StoreOf(targets);
  const auto snap = Snapshot(dir.path());
  RebalanceOptions opt;
  opt.dry_run = true;
  RebalanceResult r;
  ASSERT_TRUE(RebalanceStore(*store, opt, &r).ok());
  EXPECT_GT(r.planned.size(), 0u);
  EXPECT_TRUE(r.moved.empty());
  EXPECT_GT(r.spread_before, 0.10);
  EXPECT_TRUE(r.balanced) << "planned spread " << r.spread_after;
  EXPECT_TRUE(Snapshot(dir.path()) == snap) << "a dry run changed files";
}

TEST(Rebalance, NoSpaceOnDestinationNamesItAndLeavesNothingBehind) {
  TempDir dir;
  const auto targets = TargetsUnder(dir.path(), kOldTargets + kNewTargets);
  const auto data =
      ArchiveObjects(*StoreOf(std::vector<Target>(targets.begin(), targets.begin() + kOldTargets)),
                     dir.path(), 30);
  FaultInjectionEnv env(Env::Default());
  auto store = StoreOf(targets, &env);
  const std::string full = targets[13].path;
  env.AddRule({FaultOp::kWrite, full + "/", 0, -1, 28, false});
  RebalanceResult r;
  Status s = RebalanceStore(*store, RebalanceOptions{}, &r);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kNoSpace) << s.ToString();
  EXPECT_NE(s.message().find(full), std::string::npos) << s.ToString();
  std::printf("rebalance ENOSPC: %s\n", s.ToString().c_str());
  EXPECT_GT(env.faults_injected(), 0);
  for (const RebalanceMove& m : r.moved) EXPECT_NE(m.to, full);
  for (const std::string& n : testing::FilesIn(full))  // only the maintenance lock's file
    EXPECT_EQ(n, internal::kMaintenanceLockName);
  env.ClearRules();
  ExpectRestoresExactly(*store, data, dir / "out.bin", "after ENOSPC");
  ExpectTidyAndHealthy(*store);
  // With room again, the next run finishes the job.
  ASSERT_TRUE(RebalanceStore(*store, RebalanceOptions{}, &r).ok());
  EXPECT_TRUE(r.balanced);
  ExpectWithin(ChunkBytesOnDisk(targets), 0.10);
}

TEST(Rebalance, DamagedSourceIsNotMovedAndReported) {
  TempDir dir;
  const auto targets = TargetsUnder(dir.path(), kOldTargets + kNewTargets);
  const auto data =
      ArchiveObjects(*StoreOf(std::vector<Target>(targets.begin(), targets.begin() + kOldTargets)),
                     dir.path(), 30);
  auto store = StoreOf(targets);
  // Every chunk on two targets the plan moves chunks from, in different
  // domains (so at most 2 = m bad chunks per object).
  RebalanceOptions dry;
  dry.dry_run = true;
  RebalanceResult plan;
  ASSERT_TRUE(RebalanceStore(*store, dry, &plan).ok());
  ASSERT_FALSE(plan.planned.empty());
  auto domain_of = [&](const std::string& path) {
    for (const Target& t : targets)
      if (t.path == path) return t.domain;
    return std::string();
  };
  std::vector<std::string> damaged = {plan.planned.front().from};
  for (const RebalanceMove& mv : plan.planned)
    if (damaged.size() < 2 && domain_of(mv.from) != domain_of(damaged[0]))
      damaged.push_back(mv.from);
  for (const std::string& t : damaged)
    for (const std::string& n : testing::FilesIn(t))
      if (IsChunkName(n)) testing::FlipByte(t + "/" + n, 200);
  RebalanceResult r;
  ASSERT_TRUE(RebalanceStore(*store, RebalanceOptions{}, &r).ok());
  ASSERT_FALSE(r.skipped.empty()) << "no damaged chunk was planned to move";
  for (const std::string& k : r.skipped) EXPECT_NE(k.find("fls repair"), std::string::npos) << k;
  // No damaged chunk was copied anywhere: off t0 and t1 every chunk is sound.
  for (const CatalogEntry& e : store->ReadCatalog().objects) {
    ObjectReport rep;
    ASSERT_TRUE(VerifyObject(*store, e, VerifyOptions{}, &rep).ok());
    for (const ChunkReport& c : rep.chunks)
      if (c.state != "ok")
        EXPECT_NE(std::find(damaged.begin(), damaged.end(), e.manifest.chunks[c.index].target),
                  damaged.end())
            << e.manifest.name << " chunk " << c.index << " " << c.state << " at " << c.path;
  }
  ExpectRestoresExactly(*store, data, dir / "out.bin", "after skipping damaged chunks");
  for (const CatalogEntry& e : store->ReadCatalog().objects) {
    RepairResult rr;
    ASSERT_TRUE(RepairObject(*store, e, RepairOptions{}, &rr).ok()) << e.manifest.name;
  }
  ExpectTidyAndHealthy(*store);
}

// Manifest generations on the targets now: (name hash, generation) of each
// version 2 copy (one file per name, replaced in place by each generation).
std::set<std::pair<std::string, std::uint64_t>> ManifestsOn(const std::vector<Target>& targets) {
  std::set<std::pair<std::string, std::uint64_t>> out;
  for (const Target& t : targets) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(t.path, ec)) {
      std::string hash;
      Manifest m;
      if (ParseNameManifestFileName(e.path().filename().string(), &hash) &&
          DecodeManifest(ReadFile(e.path().string()), &m).ok())
        out.insert({hash, m.generation});
    }
  }
  return out;
}

// Runs `fls ARGS` and SIGKILLs it `delay` after the first manifest generation
// it commits appears on the targets (a kill inside or just after a commit,
// whatever the machine's speed: a sanitizer build takes many times longer to
// plan than a release build). A run that ends first is not killed; bounded
// by `limit`. True when the process exited 0.
bool RunAndKillAfterFirstCommit(const std::vector<std::string>& args,
                                const std::vector<Target>& targets, std::chrono::microseconds delay,
                                bool* killed) {
  const auto before = ManifestsOn(targets);
  std::vector<std::string> argv = {FLS_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  const pid_t pid = testing::SpawnQuiet(argv);
  EXPECT_GT(pid, 0);
  if (pid <= 0) return false;
  const auto limit = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  std::optional<std::chrono::steady_clock::time_point> kill_at;
  int status = 0;
  *killed = false;
  for (;;) {
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
    const auto now = std::chrono::steady_clock::now();
    if (!kill_at) {
      for (const auto& m : ManifestsOn(targets))
        if (!before.count(m)) {
          kill_at = now + delay;
          break;
        }
    }
    if ((kill_at && now >= *kill_at) || now >= limit) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      *killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(Rebalance, CliKilledAtRandomPointsLeavesEveryObjectRestorable) {
  TempDir dir;
  const auto targets = TargetsUnder(dir.path(), kOldTargets + kNewTargets);
  const auto data =
      ArchiveObjects(*StoreOf(std::vector<Target>(targets.begin(), targets.begin() + kOldTargets)),
                     dir.path(), 40);
  std::string yaml = "targets:\n";
  for (const Target& t : targets)
    yaml += "  - path: " + t.path + "\n    domain: " + t.domain + "\n";
  WriteFile(dir / "store.yaml", yaml);
  auto store = StoreOf(targets);

  // The CLI's dry run: the plan in JSON, nothing changed (its time, start-up,
  // catalogue and plan, goes in the report line).
  const auto snap = Snapshot(dir.path());
  const auto t0 = std::chrono::steady_clock::now();
  testing::CmdResult dry = testing::Shell(std::string(FLS_BINARY) + " rebalance --store " +
                                          dir / "store.yaml" + " --dry-run --json");
  const auto plan_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  ASSERT_EQ(dry.rc, 0) << dry.out;
  const auto dj = nlohmann::json::parse(dry.out);
  EXPECT_GT(dj["moves_planned"].get<int>(), 0);
  EXPECT_EQ(dj["moves_made"].get<int>(), 0);
  EXPECT_TRUE(Snapshot(dir.path()) == snap);

  std::mt19937_64 rng(1201);
  int killed_count = 0, finished = 0, leftovers = 0;
  for (int run = 0; run < 5; ++run) {
    // Later runs get wider windows: kills land inside the first commit, and
    // among and after later ones.
    const auto after = std::chrono::microseconds(rng() % ((run + 1) * 20000 + 1));
    bool killed = false;
    finished += RunAndKillAfterFirstCommit({"rebalance", "-q", "--store", dir / "store.yaml"},
                                           targets, after, &killed);
    killed_count += killed;
    leftovers += Leftovers(*store);
    ExpectRestoresExactly(*store, data, dir / "out.bin",
                          "after rebalance run " + std::to_string(run));
  }
  EXPECT_GT(killed_count, 0) << "no run was killed: the loop tested nothing";
  // The killed runs made progress (committed moves).
  int moved_objects = 0;
  for (const CatalogEntry& e : store->ReadCatalog().objects)
    moved_objects += e.manifest.generation > 1;
  EXPECT_GT(moved_objects, 0) << "no killed run committed a move";
  testing::CmdResult last = testing::Shell(std::string(FLS_BINARY) + " rebalance --store " +
                                           dir / "store.yaml" + " --json");
  ASSERT_EQ(last.rc, 0) << last.out;
  EXPECT_TRUE(nlohmann::json::parse(last.out)["balanced"].get<bool>()) << last.out;
  ExpectWithin(ChunkBytesOnDisk(targets), 0.10);
  ExpectRestoresExactly(*store, data, dir / "out.bin", "at the end");
  ExpectTidyAndHealthy(*store);
  std::printf(
      "rebalance crash loop: runs=5 killed=%d finished=%d objects-moved-by-killed-runs=%d "
      "leftovers-found-after-kills=%d (plan %lld us)\n",
      killed_count, finished, moved_objects, leftovers, static_cast<long long>(plan_us.count()));
}

}  // namespace
}  // namespace fls
