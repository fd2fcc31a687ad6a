// Helpers for the sweep tests: a store of many small objects over 16 targets
// in 4 failure domains, made through the library API (fast: chunk fsyncs are
// skipped while building, never while sweeping), and the damage the sweep
// must heal (a lost target, flipped bytes in random blocks).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "archive_test_util.h"
#include "fls/chunk_format.h"
#include "fls/sweep.h"

namespace fls::testing {

// Builds stores of thousands of objects fast: nothing is fsynced (the data
// lands in the page cache all the same, which is all a test that does not cut
// the power needs), and directory listings come back empty, so that
// archive's name check does not list and re-read the whole store for every
// new object (the test's names are unique by construction).
class BuildEnv : public EnvWrapper {
 public:
  BuildEnv() : EnvWrapper(Env::Default()) {}
  Status GetChildren(const std::string&, std::vector<std::string>* names) override {
    names->clear();
    return Status::Ok();
  }
  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* file) override {
    std::unique_ptr<WritableFile> f;
    FLS_RETURN_IF_ERROR(target()->NewWritableFile(path, &f));
    *file = std::make_unique<File>(std::move(f));
    return Status::Ok();
  }
  Status SyncDir(const std::string&) override { return Status::Ok(); }

 private:
  struct File : WritableFile {
    explicit File(std::unique_ptr<WritableFile> f) : f_(std::move(f)) {}
    Status Append(const void* d, std::size_t n) override { return f_->Append(d, n); }
    Status Sync() override { return Status::Ok(); }
    Status Close() override { return f_->Close(); }
    const std::string& path() const override { return f_->path(); }
    std::unique_ptr<WritableFile> f_;
  };
};

// Object i: "obj-<i>", its size and bytes follow from i alone.
inline std::size_t ObjectSize(int i) {
  if (i % 50 == 0) return 0;
  return static_cast<std::size_t>((i * 7919ull) % (200 * 1024)) + 1;
}
inline std::string ObjectName(int i) { return "obj-" + std::to_string(i); }
inline std::string ObjectBytes(int i) { return RandomBytes(ObjectSize(i), 1000 + i); }

// Stores of thousands of small objects are tens of thousands of files: on a
// disk, creating and deleting them (not the sweep) dominates the test's
// time, so they live on tmpfs when the machine has one.
inline std::string SweepTestBase() {
  std::error_code ec;
  return fs::is_directory("/dev/shm", ec) ? "/dev/shm" : fs::temp_directory_path().string();
}

struct SweepStore {
  TempDir dir{SweepTestBase()};
  BuildEnv fast_env;
  std::unique_ptr<Store> fast;            // for building
  std::unique_ptr<Store> store;           // Env::Default(): what the tests sweep with
  std::vector<std::string> target_specs;  // DIR=DOMAIN, for the CLI
  int objects = 0;
};

// `objects` objects, k=10 m=4, 40 KiB stripes (4 KiB blocks), 16 targets.
inline void BuildSweepStore(SweepStore* s, int objects) {
  s->objects = objects;
  s->fast = MakeStore(s->dir / "store", 16, &s->fast_env, 4);
  s->store = MakeStore(s->dir / "store", 16, Env::Default(), 4);
  for (const Target& t : s->store->targets()) s->target_specs.push_back(t.path + "=" + t.domain);
  const std::string src = s->dir / "src.bin";
  for (int i = 0; i < objects; ++i) {
    WriteFile(src, ObjectBytes(i));
    ArchiveOptions o;
    o.k = 10;
    o.m = 4;
    o.stripe_width = 40 * 1024;
    o.backend = "isal";
    o.name = ObjectName(i);
    ArchiveResult r;
    ASSERT_TRUE(ArchiveFile(*s->fast, src, o, &r).ok()) << i;
  }
}

// Flips one byte in block `stripe` of chunk file `path`.
inline void FlipBlock(const Manifest& mf, int chunk, std::uint64_t stripe, std::uint64_t seed) {
  const StripeGeometry g = mf.geometry();
  FlipByte(mf.chunks[chunk].path(), g.record_offset(stripe) + seed % g.block_size(stripe));
}

// Removes target `lost` entirely and flips a byte in about `percent`% of the
// other blocks at random, never more than m bad blocks in one stripe.
// Returns the number of blocks flipped.
inline int DamageStore(const Store& store, int lost, int percent, std::uint64_t seed) {
  const std::string lost_path = store.targets()[lost].path;
  fs::remove_all(lost_path);
  std::mt19937_64 rng(seed);
  int flipped = 0;
  for (const CatalogEntry& e : store.ReadCatalog().objects) {
    const Manifest& mf = e.manifest;
    std::vector<int> bad(mf.stripes, 0);
    for (const ManifestChunk& c : mf.chunks)
      if (c.target == lost_path) std::fill(bad.begin(), bad.end(), 1);
    for (int i = 0; i < mf.k + mf.m; ++i) {
      if (mf.chunks[i].target == lost_path) continue;
      for (std::uint64_t st = 0; st < mf.stripes; ++st) {
        if (static_cast<int>(rng() % 100) >= percent || bad[st] >= mf.m) continue;
        ++bad[st];
        FlipBlock(mf, i, st, rng());
        ++flipped;
      }
    }
  }
  return flipped;
}

// Every object verifies healthy (deep: parity recomputed, and the SHA-256 of
// the bytes it reconstructs equals the manifest's, which must be the SHA-256
// of the bytes archived), and keeps its chunks on distinct targets, none on
// `lost`. Four of them are also restored to a file and compared byte for
// byte (a restore looks its name up in the whole catalogue: all would be
// quadratic).
inline void ExpectAllHealthy(const SweepStore& s, const std::string& lost_path,
                             const std::set<std::string>& except = {}) {
  const Catalog c = s.store->ReadCatalog();
  ASSERT_EQ(static_cast<int>(c.objects.size()), s.objects);
  int checked = 0;
  const std::string src = s.dir / "expected.bin";
  for (const CatalogEntry& e : c.objects) {
    if (except.count(e.manifest.name)) continue;
    ObjectReport r;
    VerifyOptions vo;
    vo.deep = true;
    vo.backend = "isal";
    ASSERT_TRUE(VerifyObject(*s.store, e, vo, &r).ok());
    EXPECT_EQ(r.health, Health::kHealthy) << e.manifest.name;
    std::set<std::string> targets;
    for (const ManifestChunk& ch : e.manifest.chunks) {
      targets.insert(ch.target);
      EXPECT_NE(ch.target, lost_path) << e.manifest.name;
    }
    EXPECT_EQ(static_cast<int>(targets.size()), e.manifest.k + e.manifest.m) << e.manifest.name;
    const int i = std::stoi(e.manifest.name.substr(4));
    WriteFile(src, ObjectBytes(i));
    std::string sha;
    ASSERT_TRUE(Sha256File(Env::Default(), src, &sha).ok());
    EXPECT_EQ(e.manifest.sha256, sha) << e.manifest.name;
    if (i % std::max(1, s.objects / 4) == 1) {
      RestoreOptions ro;
      ro.output = s.dir / "out.bin";
      ro.backend = "isal";
      RestoreResult rr;
      ASSERT_TRUE(RestoreObject(*s.store, e.manifest.name, ro, &rr).ok()) << e.manifest.name;
      EXPECT_TRUE(ReadFile(ro.output) == ObjectBytes(i)) << e.manifest.name << " differs";
    }
    ++checked;
  }
  EXPECT_EQ(checked, s.objects - static_cast<int>(except.size()));
}

}  // namespace fls::testing
