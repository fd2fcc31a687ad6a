// Chunk and manifest files stay inside their target (issue 12): a symbolic
// link planted as a chunk file or as a manifest copy is refused, never
// followed. The chunk reads as unreadable (the object restores from the
// others, and the problem is reported); the manifest copy is a problem of
// the catalogue entry while the other copies serve.
#include <gtest/gtest.h>

#include "archive_test_util.h"
#include "fls/archive.h"

namespace fls {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;
namespace fs = std::filesystem;

TEST(TargetConfinement, ChunkAndManifestLinksAreNotFollowed) {
  TempDir dir;
  auto store = testing::MakeStore(dir / "store", 6);
  const std::string data = testing::RandomBytes(300000, 12);
  WriteFile(dir / "src", data);
  ArchiveOptions o;
  o.k = 4;
  o.m = 2;
  o.stripe_width = 64 << 10;
  o.name = "obj";
  ArchiveResult ar;
  ASSERT_TRUE(ArchiveFile(*store, dir / "src", o, &ar).ok());
  // Chunk 1 becomes a link to a copy of itself outside the store: were it
  // followed, the restore would see a perfectly good chunk.
  const std::string chunk = ar.manifest.chunks[1].path();
  fs::copy_file(chunk, dir / "outside-chunk");
  fs::remove(chunk);
  fs::create_symlink(dir / "outside-chunk", chunk);
  // One manifest copy becomes a link to a copy outside.
  CatalogEntry e;
  ASSERT_TRUE(store->FindObject("obj", &e).ok());
  ASSERT_GE(e.copies.size(), 2u);
  fs::copy_file(e.copies[0], dir / "outside-manifest");
  fs::remove(e.copies[0]);
  fs::create_symlink(dir / "outside-manifest", e.copies[0]);

  ASSERT_TRUE(store->FindObject("obj", &e).ok());
  EXPECT_EQ(e.copies.size(), ar.manifest.manifest_targets.size() - 1);
  ASSERT_EQ(e.problems.size(), 1u);
  EXPECT_NE(e.problems[0].find("symbolic link"), std::string::npos) << e.problems[0];

  RestoreOptions ro;
  ro.output = dir / "back";
  RestoreResult rr;
  ASSERT_TRUE(RestoreObject(*store, "obj", ro, &rr).ok());
  EXPECT_EQ(ReadFile(dir / "back"), data);
  ASSERT_EQ(rr.problems.size(), 1u);
  EXPECT_NE(rr.problems[0].find("chunk 1 unreadable"), std::string::npos) << rr.problems[0];
  EXPECT_NE(rr.problems[0].find("symbolic link"), std::string::npos) << rr.problems[0];
  ObjectReport report;
  VerifyOptions vo;
  ASSERT_TRUE(VerifyObject(*store, e, vo, &report).ok());
  EXPECT_EQ(report.health, Health::kDegraded);
  EXPECT_EQ(report.chunks[1].state, "unreadable");
}

}  // namespace
}  // namespace fls
