// Shared by delete_test and delete_crash_test: a store of objects and
// packed files, and the checks that each name is whole or gone.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>

#include "archive_test_util.h"
#include "fls/compact.h"
#include "fls/delete.h"
#include "fls/pack.h"
#include "fls/sweep.h"

namespace fls::delete_test {

using testing::TempDir;
using testing::WriteFile;

constexpr std::uint64_t kStripe = 64 << 10;

inline OpenSourceFn OpenWith(Env* env) {
  return [env](const std::string& path, std::unique_ptr<RandomAccessFile>* f, FileInfo* info) {
    FLS_RETURN_IF_ERROR(env->GetFileInfo(path, info));
    return env->NewRandomAccessFile(path, f);
  };
}

inline ArchiveOptions Options() {
  ArchiveOptions o;
  o.stripe_width = kStripe;
  o.backend = "isal";
  o.threads = 1;
  return o;
}

// A store with `objects` objects (sizes around the stripe: below it, a
// short last stripe) and `packed` small files in packs of 16.
struct Fixture {
  TempDir dir;
  Env* env;
  std::unique_ptr<Store> store;
  std::map<std::string, std::string> files;  // name -> bytes
  std::vector<std::string> objects, packed;

  Fixture(int n_objects, int n_packed, Env* e = Env::Default(), const std::string& root = "s")
      : env(e) {
    store = testing::MakeStore(dir / root, 14, env);
    testing::fs::create_directories(dir / "src");
    for (int i = 0; i < n_objects; ++i) {
      const std::size_t size = i % 2 ? kStripe / 3 : 2 * kStripe + 777 * (i + 1);
      const std::string name = "obj/" + std::to_string(i);
      Add(name, size, 1000 + i);
      objects.push_back(name);
    }
    for (int i = 0; i < n_packed; ++i) {
      const std::string name = "small/" + std::to_string(i);
      Add(name, 100 + 997 * (i % 13), 2000 + i);
      packed.push_back(name);
    }
  }
  void Add(const std::string& name, std::size_t size, std::uint64_t seed) {
    files[name] = testing::RandomBytes(size, seed);
    WriteFile(Src(name), files[name]);
  }
  std::string Src(const std::string& name) const {
    std::string flat = name;
    for (char& c : flat)
      if (c == '/') c = '_';
    return dir / ("src/" + flat);
  }
  Status ArchiveAll(const ArchiveOptions& o = Options()) {
    for (const std::string& n : objects) {
      ArchiveOptions oo = o;
      oo.name = n;
      ArchiveResult r;
      FLS_RETURN_IF_ERROR(ArchiveFile(*store, Src(n), oo, &r));
    }
    std::vector<PackInput> in;
    for (const std::string& n : packed) in.push_back({n, Src(n), files[n].size()});
    PackOptions po;
    po.max_files = 16;
    Status first;
    FLS_RETURN_IF_ERROR(ArchiveSmallFiles(*store, OpenWith(env), in, o, po,
                                          [&](std::size_t, const PackedItem& item) {
                                            if (first.ok()) first = item.status;
                                          }));
    return first;
  }
  Status Read(const std::string& name, std::string* out) const {
    out->clear();
    RestoreOptions ro;
    ro.backend = "isal";
    ro.threads = 1;
    return ReadObject(
        *store, name, ro,
        [&](const std::uint8_t* p, std::size_t n) {
          out->append(reinterpret_cast<const char*>(p), n);
          return Status::Ok();
        },
        nullptr);
  }
  Status Delete(const std::vector<std::string>& names, DeleteOptions o = {}) {
    Status first;
    Status s =
        DeleteNames(*store, names, o, 0, [&](std::size_t, const Status& st, const DeleteResult&) {
          if (first.ok()) first = st;
        });
    return s.ok() ? first : s;
  }
  std::vector<std::string> Listed() const {
    std::vector<std::string> names;
    CatalogWalk walk;
    store->WalkCatalog(
        [&](CatalogEntry& e) {
          if (!IsPackName(e.manifest.name)) names.push_back(e.manifest.name);
          return true;
        },
        &walk);
    WalkMembers(
        *store,
        [&](MemberEntry& m) {
          names.push_back(m.member.name);
          return true;
        },
        nullptr);
    std::sort(names.begin(), names.end());
    return names;
  }
  std::uint64_t AllocatedBytes() const {
    std::uint64_t sum = 0;
    for (const std::string& p : testing::AllFiles(dir / "s")) {
      struct stat st;
      if (::stat(p.c_str(), &st) == 0) sum += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
    return sum;
  }
  // Every file name under the targets whose name holds `part`.
  int FilesNaming(const std::string& part) const {
    int n = 0;
    for (const std::string& p : testing::AllFiles(dir / "s")) n += p.find(part) != p.npos;
    return n;
  }
};

inline void ExpectLiveAndGone(const Fixture& f, const std::set<std::string>& gone,
                              const std::string& when) {
  for (const auto& [name, bytes] : f.files) {
    std::string got;
    Status s = f.Read(name, &got);
    if (gone.count(name)) {
      EXPECT_EQ(s.code(), Status::Code::kNotFound) << when << ": " << name << ": " << s.ToString();
      Located l;
      EXPECT_EQ(LocateName(*f.store, name, &l).code(), Status::Code::kNotFound) << when << name;
    } else {
      ASSERT_TRUE(s.ok()) << when << ": " << name << ": " << s.ToString();
      EXPECT_TRUE(got == bytes) << when << ": " << name << " differs";
    }
  }
  for (const std::string& n : f.Listed()) EXPECT_EQ(gone.count(n), 0u) << when << ": listed " << n;
}

// After a repair sweep: no manifest, record, tombstone or chunk of a deleted
// name is on any target.
inline void ExpectNoFilesOf(const Fixture& f, const std::map<std::string, std::string>& ids,
                            const std::string& when) {
  for (const auto& [name, id] : ids) {
    EXPECT_EQ(f.FilesNaming(NameHash(name)), 0) << when << ": files of " << name << " remain";
    if (!id.empty()) EXPECT_EQ(f.FilesNaming(id), 0) << when << ": chunks of " << name;
  }
}

inline std::string IdOf(const Store& store, const std::string& name) {
  CatalogEntry e;
  return store.FindObject(name, &e).ok() ? ObjectIdToHex(e.manifest.id) : "";
}

inline Status RepairSweep(const Store& store) {
  SweepOptions so;
  so.backend = "isal";
  so.threads = 1;
  so.dead_pack_min_age_ns = 0;
  SweepReport r;
  return RunSweep(store, so, &r);
}

}  // namespace fls::delete_test
