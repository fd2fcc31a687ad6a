// 300 MiB end to end with the default parameters (10 MiB stripes, 10 + 4):
// archive, lose 4 chunks (2 data, 2 parity), restore bit-exact. Label: slow.
#include <gtest/gtest.h>

#include "archive_test_util.h"
#include "fls/archive.h"
#include "fls/sha256.h"

namespace fls {
namespace {

TEST(ArchiveLarge, ThreeHundredMiBLoseFourChunksRestoreBitExact) {
  testing::TempDir dir;
  auto store = testing::MakeStore(dir / "s", 14);
  const std::uint64_t size = 300ull << 20;
  {
    std::unique_ptr<WritableFile> f;
    ASSERT_TRUE(Env::Default()->NewWritableFile(dir / "big", &f).ok());
    std::mt19937_64 rng(1);
    std::vector<std::uint64_t> buf(1 << 17);
    for (std::uint64_t done = 0; done < size; done += buf.size() * 8) {
      for (auto& w : buf) w = rng();
      ASSERT_TRUE(f->Append(buf.data(), buf.size() * 8).ok());
    }
    ASSERT_TRUE(f->Close().ok());
  }
  ArchiveOptions o;
  ArchiveResult r;
  ASSERT_TRUE(ArchiveFile(*store, dir / "big", o, &r).ok());
  EXPECT_EQ(r.manifest.stripes, 30u);
  for (int i : {1, 6, 10, 13}) testing::fs::remove(r.manifest.chunks[i].path());
  RestoreOptions ro;
  ro.output = dir / "back";
  RestoreResult rr;
  ASSERT_TRUE(RestoreObject(*store, "big", ro, &rr).ok());
  EXPECT_EQ(rr.stripes_reconstructed, 30u);
  std::string a, b;
  ASSERT_TRUE(Sha256File(Env::Default(), dir / "big", &a).ok());
  ASSERT_TRUE(Sha256File(Env::Default(), dir / "back", &b).ok());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, r.manifest.sha256);
  EXPECT_EQ(testing::fs::file_size(dir / "back"), size);
}

}  // namespace
}  // namespace fls
