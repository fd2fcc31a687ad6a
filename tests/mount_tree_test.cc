// MountTree (host/cli/mount_tree.h): names become paths; pack objects,
// names that are no path and path conflicts are left out with a reason.
#include "host/cli/mount_tree.h"

#include <gtest/gtest.h>

namespace fls::cli {
namespace {

TEST(MountTree, NamesBecomePaths) {
  MountTree t;
  std::string why;
  EXPECT_TRUE(t.Add({"photos/2024/a.jpg", 10, 0644, 5}, &why));
  EXPECT_TRUE(t.Add({"photos/2024/b.jpg", 20, 0600, 9}, &why));
  EXPECT_TRUE(t.Add({"top", 1, 0644, 1}, &why));
  EXPECT_EQ(t.files(), 3u);
  const MountNode* d = t.Find("/photos/2024");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->dir);
  EXPECT_EQ(d->children.size(), 2u);
  EXPECT_EQ(d->mtime_ns, 9);
  const MountNode* f = t.Find("/photos/2024/b.jpg");
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(f->dir);
  EXPECT_EQ(f->file.size, 20u);
  EXPECT_EQ(t.Find("/"), t.Find(""));
  EXPECT_EQ(t.Find("/photos/2025"), nullptr);
  EXPECT_EQ(t.Find("/top/x"), nullptr);
  // The same name again replaces the file.
  EXPECT_TRUE(t.Add({"top", 2, 0644, 1}, &why));
  EXPECT_EQ(t.Find("/top")->file.size, 2u);
  EXPECT_EQ(t.files(), 3u);
}

TEST(MountTree, LeavesOutWhatCannotBeAPath) {
  MountTree t;
  std::string why;
  EXPECT_FALSE(t.Add({"fls-pack/0123456789abcdef0123456789abcdef", 1, 0644, 0}, &why));
  EXPECT_NE(why.find("pack"), std::string::npos);
  for (const char* bad : {"", "/abs", "a//b", "a/./b", "../x", "dir/", "a/.."}) {
    EXPECT_FALSE(t.Add({bad, 1, 0644, 0}, &why)) << bad;
    EXPECT_NE(why.find("no path"), std::string::npos) << bad << ": " << why;
  }
  EXPECT_EQ(t.files(), 0u);
}

TEST(MountTree, DirectoryWinsOverAFileOfTheSameName) {
  MountTree t;
  std::string why;
  ASSERT_TRUE(t.Add({"a/b", 1, 0644, 0}, &why));
  EXPECT_FALSE(t.Add({"a", 1, 0644, 0}, &why));
  EXPECT_NE(why.find("also a directory"), std::string::npos) << why;
  ASSERT_TRUE(t.Add({"x", 1, 0644, 0}, &why));
  EXPECT_TRUE(t.Add({"x/y", 1, 0644, 0}, &why));
  EXPECT_NE(why.find("hidden"), std::string::npos) << why;
  EXPECT_TRUE(t.Find("/x")->dir);
  EXPECT_EQ(t.files(), 2u);
}

}  // namespace
}  // namespace fls::cli
