// ReportSpace and `fls df` on real target directories: the categories sum to
// the bytes found by listing each target independently, data equals the
// source bytes, parity and padding follow the geometry exactly, leftovers
// and dead pack members are found, and the CLI's JSON carries the same
// numbers.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "archive_test_util.h"
#include "fls/pack.h"
#include "fls/space_report.h"
#include "test_paths.h"

namespace fls {
namespace {

using testing::TempDir;
using testing::WriteFile;
namespace fs = std::filesystem;

constexpr int kTargets = 14, kK = 10, kM = 4;
constexpr std::uint64_t kWidth = 40960;  // B = 4096

struct OnDisk {
  std::uint64_t bytes = 0, allocated = 0;
};

// Every regular file in `dir`, stat-ed here, apart from what fls counts.
OnDisk ListTarget(const std::string& dir) {
  OnDisk d;
  for (const auto& e : fs::directory_iterator(dir)) {
    struct stat st;
    if (!e.is_regular_file() || ::stat(e.path().c_str(), &st) != 0) continue;
    const std::string n = e.path().filename().string();
    if (n.rfind("fls-", 0) != 0 && n.rfind(".fls-", 0) != 0 && !IsTempName(n)) continue;
    d.bytes += static_cast<std::uint64_t>(st.st_size);
    d.allocated += static_cast<std::uint64_t>(st.st_blocks) * 512;
  }
  return d;
}

// What the geometry of docs/FORMAT.md section 1 says an object of `size`
// bytes (k = 10, m = 4, B = 4096) puts on the targets, computed here.
struct Expected {
  std::uint64_t blocks = 0;  // per chunk
  std::uint64_t padding = 0, headers = 0;
};
Expected ForSize(std::uint64_t size) {
  Expected e;
  const std::uint64_t B = kWidth / kK;
  const std::uint64_t S = (size + kWidth - 1) / kWidth;
  e.headers = (kK + kM) * (128 + 4 * S);
  if (S == 0) return e;
  const std::uint64_t R = size - (S - 1) * kWidth;
  const std::uint64_t L = std::min(B, 64 * (((R + kK - 1) / kK + 63) / 64));
  e.blocks = (S - 1) * B + L;
  e.padding = kK * L - R;
  return e;
}

class SpaceReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::MakeStore(dir_ / "s", kTargets);
    fs::create_directories(dir_ / "src");
    const std::vector<std::uint64_t> sizes = {0, 1, 5000, kWidth * 2 + 777, kWidth * 3};
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const std::string path = dir_ / ("src/o" + std::to_string(i));
      WriteFile(path, testing::RandomBytes(sizes[i], i + 1));
      ArchiveOptions o = Options();
      o.name = "object" + std::to_string(i);
      ArchiveResult r;
      ASSERT_TRUE(ArchiveFile(*store_, path, o, &r).ok());
      const Expected e = ForSize(sizes[i]);
      source_ += sizes[i];
      padding_ += e.padding;
      headers_ += e.headers;
      parity_ += kM * e.blocks;
    }
    std::vector<PackInput> inputs;
    for (int i = 0; i < 20; ++i) {
      const std::uint64_t size = 100 + 700 * static_cast<std::uint64_t>(i);
      const std::string path = dir_ / ("src/m" + std::to_string(i));
      WriteFile(path, testing::RandomBytes(size, 100 + i));
      inputs.push_back({"small/m" + std::to_string(i), path, size});
    }
    auto open = [](const std::string& path, std::unique_ptr<RandomAccessFile>* f, FileInfo* info) {
      FLS_RETURN_IF_ERROR(Env::Default()->GetFileInfo(path, info));
      return Env::Default()->NewRandomAccessFile(path, f);
    };
    ASSERT_TRUE(ArchiveSmallFiles(*store_, open, inputs, Options(), PackOptions(),
                                  [&](std::size_t, const PackedItem& item) {
                                    ASSERT_TRUE(item.status.ok()) << item.status.ToString();
                                    members_.push_back(item.entry);
                                  })
                    .ok());
    ASSERT_EQ(members_.size(), 20u);
    CatalogEntry pack;
    ASSERT_TRUE(store_->FindObject(members_[0].pack, &pack).ok());
    std::uint64_t member_bytes = 0;
    for (const PackEntry& m : members_) member_bytes += m.length;
    const Expected e = ForSize(pack.manifest.size);
    source_ += member_bytes;
    padding_ += e.padding;
    // The pack's index (its bytes past the members) counts as headers.
    index_ = pack.manifest.size - member_bytes;
    headers_ += e.headers + index_;
    parity_ += kM * e.blocks;
  }

  ArchiveOptions Options() const {
    ArchiveOptions o;
    o.stripe_width = kWidth;
    o.backend = "isal";
    o.threads = 1;
    return o;
  }

  // Each target's categories sum to what listing it finds.
  void ExpectSumsMatchListing(const SpaceReport& r) {
    ASSERT_EQ(r.targets.size(), static_cast<std::size_t>(kTargets));
    for (const TargetSpace& t : r.targets) {
      const OnDisk d = ListTarget(t.path);
      EXPECT_TRUE(t.readable) << t.path;
      EXPECT_EQ(t.bytes.total(), d.bytes) << t.path;
      EXPECT_EQ(t.bytes.allocated(), d.allocated) << t.path;
    }
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::vector<PackEntry> members_;
  std::uint64_t source_ = 0, padding_ = 0, headers_ = 0, parity_ = 0, index_ = 0;
};

TEST_F(SpaceReportTest, CategoriesFollowTheGeometryAndSumToTheFiles) {
  SpaceReport r;
  ASSERT_TRUE(ReportSpace(*store_, &r).ok());
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  ExpectSumsMatchListing(r);
  EXPECT_EQ(r.objects, 6u);
  EXPECT_EQ(r.packs, 1u);
  EXPECT_EQ(r.live_members, 20u);
  EXPECT_EQ(r.dead_members, 0u);
  EXPECT_EQ(r.total.data, source_);
  EXPECT_EQ(r.live_source_bytes, source_);
  EXPECT_EQ(r.total.padding, padding_);
  EXPECT_EQ(r.total.headers, headers_);
  EXPECT_EQ(r.total.parity, parity_);
  // Parity covers the data blocks whole: m/k of data, padding and index.
  EXPECT_EQ(r.total.parity * kK, kM * (r.total.data + r.total.padding + index_));
  EXPECT_EQ(r.total.dead, 0u);
  EXPECT_EQ(r.total.leftovers(), 0u);
  EXPECT_EQ(r.total.damaged, 0u);
  EXPECT_GT(r.total.manifests, 0u);
  EXPECT_GT(r.overhead_ratio, 1.4);
  EXPECT_DOUBLE_EQ(r.overhead_ratio, static_cast<double>(r.total.allocated()) / source_);
  // Every target lies on one file system: its free space is counted once.
  EXPECT_EQ(r.free, r.targets[0].free);
  for (int t = 1; t < kTargets; ++t) EXPECT_EQ(r.targets[t].shares_fs_with, 0);
}

TEST_F(SpaceReportTest, TemporariesOrphansAndCopiedChunksAreLeftovers) {
  const std::string t0 = store_->targets()[0].path;
  const std::string tmp = TempPathFor(JoinPath(t0, "fls-n00112233445566778899aabbccddeeff.member"));
  WriteFile(tmp, std::string(333, 'x'));
  const std::string orphan = JoinPath(t0, ChunkFileName(RandomObjectId(), 3));
  WriteFile(orphan, std::string(4444, 'y'));
  WriteFile(JoinPath(t0, "notes.txt"), "not fls's");
  // Chunk 0 of object3 copied beside its chunk 1, where its manifest does
  // not place it: what an interrupted repair or rebalance leaves.
  CatalogEntry e;
  ASSERT_TRUE(store_->FindObject("object3", &e).ok());
  const std::string from = e.manifest.chunks[0].path();
  fs::copy_file(from, JoinPath(e.manifest.chunks[1].target, BaseName(from)));
  const std::uint64_t copied = fs::file_size(from);
  SpaceReport r;
  ASSERT_TRUE(ReportSpace(*store_, &r).ok());
  ExpectSumsMatchListing(r);
  EXPECT_EQ(r.total.temporaries, 333u);
  EXPECT_EQ(r.total.orphan_chunks, 4444u);
  EXPECT_EQ(r.total.leftover_chunks, copied);
  EXPECT_EQ(r.total.other, 0u);
  EXPECT_EQ(r.total.foreign_files, 1u);
  EXPECT_EQ(r.total.foreign_bytes, 9u);
  // The live objects' numbers do not move.
  EXPECT_EQ(r.total.data, source_);
  EXPECT_EQ(r.total.parity, parity_);
}

TEST_F(SpaceReportTest, AChunkOfTheWrongSizeIsDamaged) {
  CatalogEntry e;
  ASSERT_TRUE(store_->FindObject("object4", &e).ok());
  const std::string chunk = e.manifest.chunks[2].path();
  const std::uint64_t size = fs::file_size(chunk);
  fs::resize_file(chunk, size - 100);
  SpaceReport r;
  ASSERT_TRUE(ReportSpace(*store_, &r).ok());
  ExpectSumsMatchListing(r);
  EXPECT_EQ(r.total.damaged, size - 100);
  // Its data block bytes are no longer counted as data; the others are.
  EXPECT_EQ(r.total.data, source_ - 3 * (kWidth / kK));
  EXPECT_EQ(r.live_source_bytes, source_);
}

TEST_F(SpaceReportTest, MembersWithoutRecordsAreDeadBytes) {
  SpaceReport before;
  ASSERT_TRUE(ReportSpace(*store_, &before).ok());
  std::uint64_t dead = 0;
  for (std::size_t i = 0; i < members_.size(); i += 2) {
    dead += members_[i].length;
    for (const Target& t : store_->targets())
      fs::remove(JoinPath(t.path, MemberRecordFileName(members_[i].name)));
  }
  SpaceReport after;
  ASSERT_TRUE(ReportSpace(*store_, &after).ok());
  EXPECT_TRUE(after.warnings.empty()) << after.warnings.front();
  ExpectSumsMatchListing(after);
  EXPECT_EQ(after.total.dead, dead);
  EXPECT_EQ(after.dead_members, 10u);
  EXPECT_EQ(after.live_members, 10u);
  EXPECT_EQ(after.total.data, source_ - dead);
  EXPECT_EQ(after.live_source_bytes, source_ - dead);
  EXPECT_EQ(after.total.parity, before.total.parity);
  EXPECT_EQ(after.total.padding, before.total.padding);
  EXPECT_GT(after.overhead_ratio, before.overhead_ratio);
}

TEST_F(SpaceReportTest, CliJsonCarriesTheSameNumbers) {
  SpaceReport r;
  ASSERT_TRUE(ReportSpace(*store_, &r).ok());
  std::string cmd = std::string(FLS_BINARY) + " df --json";
  for (const Target& t : store_->targets()) cmd += " --target " + t.path;
  const testing::CmdResult out = testing::Shell(cmd);
  ASSERT_EQ(out.rc, 0) << out.out;
  const nlohmann::json j = nlohmann::json::parse(out.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out.out;
  EXPECT_EQ(j["format"], "fls-df/1");
  EXPECT_EQ(j["total"]["data"], source_);
  EXPECT_EQ(j["total"]["parity"], parity_);
  EXPECT_EQ(j["total"]["padding"], padding_);
  EXPECT_EQ(j["total"]["headers"], headers_);
  EXPECT_EQ(j["total"]["total"], r.total.total());
  EXPECT_EQ(j["total"]["allocated"], r.total.allocated());
  EXPECT_EQ(j["live_source_bytes"], source_);
  EXPECT_DOUBLE_EQ(j["overhead_ratio"].get<double>(), r.overhead_ratio);
  ASSERT_EQ(j["targets"].size(), static_cast<std::size_t>(kTargets));
  for (int t = 0; t < kTargets; ++t)
    EXPECT_EQ(j["targets"][t]["bytes"]["total"], ListTarget(r.targets[t].path).bytes);
  // The human table ends in the totals and the ratio.
  const testing::CmdResult human =
      testing::Shell(cmd.substr(0, cmd.find(" --json")) + cmd.substr(cmd.find(" --json") + 7));
  EXPECT_EQ(human.rc, 0) << human.out;
  EXPECT_NE(human.out.find("overhead ratio"), std::string::npos) << human.out;
}

TEST(SpaceReport, AMissingTargetIsAWarningAndExitFour) {
  TempDir dir;
  auto store = testing::MakeStore(dir / "s", 3);
  fs::remove_all(store->targets()[1].path);
  SpaceReport r;
  ASSERT_TRUE(ReportSpace(*store, &r).ok());
  EXPECT_FALSE(r.targets[1].readable);
  EXPECT_TRUE(r.targets[0].readable);
  EXPECT_FALSE(r.warnings.empty());
  EXPECT_EQ(r.overhead_ratio, 0.0);
  std::string cmd = std::string(FLS_BINARY) + " df";
  for (const Target& t : store->targets()) cmd += " --target " + t.path;
  const testing::CmdResult out = testing::Shell(cmd);
  EXPECT_EQ(out.rc, 4) << out.out;
  EXPECT_NE(out.out.find("warning: target " + store->targets()[1].path), std::string::npos)
      << out.out;
  EXPECT_NE(out.out.find("overhead ratio: none"), std::string::npos) << out.out;
  // A STORE argument that is not a store is a usage error naming it.
  const testing::CmdResult bad = testing::Shell(cmd + " nonsense");
  EXPECT_EQ(bad.rc, 2) << bad.out;
  EXPECT_NE(bad.out.find("'nonsense' is not a store"), std::string::npos) << bad.out;
}

// The committed version 1 store (chunk format 1: the last stripe's padding
// stored; path-addressed manifests): every file still classified, and its
// pack, written before member records existed, has no member found by name
// until its records are written (what `fls upgrade` does).
TEST(SpaceReport, VersionOneStoreAndItsRecordlessPack) {
  TempDir dir;
  fs::copy(fs::path(FLS_TEST_DATA_DIR) / "v1-store", dir.path(), fs::copy_options::recursive);
  std::unique_ptr<Store> store;
  ASSERT_TRUE(Store::FromYamlFile(Env::Default(), dir / "fls-store.yaml", &store).ok());
  std::uint64_t objects_source = 0, members_source = 0;
  for (const auto& e : fs::directory_iterator(dir / "src")) objects_source += e.file_size();
  for (const auto& e : fs::directory_iterator(dir / "packed")) members_source += e.file_size();
  SpaceReport r;
  ASSERT_TRUE(ReportSpace(*store, &r).ok());
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  for (const TargetSpace& t : r.targets) {
    EXPECT_EQ(t.bytes.total(), ListTarget(t.path).bytes) << t.path;
    EXPECT_EQ(t.bytes.allocated(), ListTarget(t.path).allocated) << t.path;
  }
  EXPECT_EQ(r.packs, 1u);
  EXPECT_EQ(r.dead_members, 3u);
  EXPECT_EQ(r.total.dead, members_source);
  EXPECT_EQ(r.total.data, objects_source);
  EXPECT_EQ(r.live_source_bytes, objects_source);
  ASSERT_TRUE(store->Join().ok());  // records go to joined targets
  Catalog catalog = store->ReadCatalog();
  for (const CatalogEntry& e : catalog.objects) {
    if (!IsPackName(e.manifest.name)) continue;
    std::uint64_t written = 0;
    const Status s = RecordPackMembers(*store, e, &written);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(written, 3u);
  }
  SpaceReport after;
  ASSERT_TRUE(ReportSpace(*store, &after).ok());
  EXPECT_EQ(after.live_members, 3u);
  EXPECT_EQ(after.total.dead, 0u);
  EXPECT_EQ(after.total.data, objects_source + members_source);
  EXPECT_EQ(after.total.parity, r.total.parity);
  // The records (3 names, m + 1 copies) and the identities joining wrote
  // are manifests.
  EXPECT_GT(after.total.manifests, r.total.manifests);
  EXPECT_DOUBLE_EQ(after.overhead_ratio,
                   static_cast<double>(after.total.allocated()) / after.live_source_bytes);
}

}  // namespace
}  // namespace fls
