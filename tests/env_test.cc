// The Env seam: POSIX behaviour and the fault-injecting Env.
#include <gtest/gtest.h>

#include <cerrno>

#include "archive_test_util.h"
#include "fls/env.h"
#include "fls/fault_injection_env.h"

namespace fls {
namespace {

using testing::ReadFile;
using testing::TempDir;

TEST(PosixEnv, WriteReadRenameListAndErrorsNamePaths) {
  TempDir dir;
  Env* env = Env::Default();
  ASSERT_TRUE(env->CreateDirs(dir / "a/b").ok());
  ASSERT_TRUE(WriteFileDurably(env, dir / "a/b/f", "hello").ok());
  EXPECT_EQ(ReadFile(dir / "a/b/f"), "hello");
  std::vector<std::string> names;
  ASSERT_TRUE(env->GetChildren(dir / "a/b", &names).ok());
  EXPECT_EQ(names, std::vector<std::string>{"f"});  // no temporary left behind
  FileInfo info;
  ASSERT_TRUE(env->GetFileInfo(dir / "a/b/f", &info).ok());
  EXPECT_EQ(info.size, 5u);
  Status s = env->GetFileInfo(dir / "nope", &info);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find(dir / "nope"), std::string::npos);
  EXPECT_NE(s.message().find("No such file"), std::string::npos);
  std::unique_ptr<RandomAccessFile> r;
  EXPECT_EQ(env->NewRandomAccessFile(dir / "nope", &r).code(), Status::Code::kNotFound);
  std::uint64_t free = 0;
  ASSERT_TRUE(env->GetFreeSpace(dir.path(), &free).ok());
  EXPECT_GT(free, 0u);
  EXPECT_TRUE(IsTempName(BaseName(TempPathFor(dir / "x"))));
  EXPECT_FALSE(IsTempName("fls-00.c1.chunk"));
}

TEST(FaultInjectionEnv, FailsMatchingCallsAfterN) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  FaultRule rule;
  rule.op = FaultOp::kWrite;
  rule.path_contains = "victim";
  rule.succeed_first = 2;
  rule.error = ENOSPC;
  env.AddRule(rule);
  std::unique_ptr<WritableFile> f, g;
  ASSERT_TRUE(env.NewWritableFile(dir / "victim", &f).ok());
  ASSERT_TRUE(env.NewWritableFile(dir / "other", &g).ok());
  EXPECT_TRUE(f->Append("ab", 2).ok());
  EXPECT_TRUE(f->Append("cd", 2).ok());
  Status s = f->Append("ef", 2);
  EXPECT_EQ(s.code(), Status::Code::kNoSpace);
  EXPECT_NE(s.message().find(dir / "victim"), std::string::npos);
  EXPECT_NE(s.message().find("No space left"), std::string::npos);
  EXPECT_TRUE(g->Append("xyz", 3).ok());  // other paths unaffected
  EXPECT_EQ(env.faults_injected(), 1);
}

TEST(FaultInjectionEnv, ShortWriteLeavesHalf) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  FaultRule rule;
  rule.op = FaultOp::kWrite;
  rule.short_write = true;
  env.AddRule(rule);
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env.NewWritableFile(dir / "f", &f).ok());
  EXPECT_FALSE(f->Append("abcdefgh", 8).ok());
  f->Close();
  EXPECT_EQ(ReadFile(dir / "f"), "abcd");
}

TEST(FaultInjectionEnv, DropUnsyncedDataRevertsWhatWasNotDurable) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  // Durable: written, fsynced, renamed, directory fsynced.
  ASSERT_TRUE(WriteFileDurably(&env, dir / "durable", "kept").ok());
  // Synced data but the rename's directory was not fsynced: the rename reverts
  // and the (never dir-synced) temporary disappears.
  {
    std::unique_ptr<WritableFile> f;
    ASSERT_TRUE(env.NewWritableFile(dir / "tmp", &f).ok());
    ASSERT_TRUE(f->Append("data", 4).ok());
    ASSERT_TRUE(f->Sync().ok());
    ASSERT_TRUE(f->Close().ok());
    ASSERT_TRUE(env.RenameFile(dir / "tmp", dir / "renamed").ok());
  }
  // A durable file with unsynced appended data: truncated to the synced part.
  ASSERT_TRUE(env.CreateDirs(dir / "sub").ok());
  std::unique_ptr<WritableFile> g;
  ASSERT_TRUE(env.NewWritableFile(dir / "sub/partial", &g).ok());
  ASSERT_TRUE(g->Append("synced", 6).ok());
  ASSERT_TRUE(g->Sync().ok());
  ASSERT_TRUE(env.SyncDir(dir / "sub").ok());
  ASSERT_TRUE(g->Append("-lost", 5).ok());
  g->Close();
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  EXPECT_EQ(ReadFile(dir / "durable"), "kept");
  EXPECT_FALSE(testing::fs::exists(dir / "renamed"));
  EXPECT_FALSE(testing::fs::exists(dir / "tmp"));
  EXPECT_EQ(ReadFile(dir / "sub/partial"), "synced");
}

TEST(FaultInjectionEnv, CrashPointStopsEveryMutation) {
  TempDir dir;
  FaultInjectionEnv env(Env::Default());
  env.SetCrashPoint(2);
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env.NewWritableFile(dir / "f", &f).ok());  // 1
  ASSERT_TRUE(f->Append("x", 1).ok());                   // 2
  EXPECT_FALSE(f->Sync().ok());
  EXPECT_FALSE(env.RemoveFile(dir / "f").ok());
  EXPECT_TRUE(testing::fs::exists(dir / "f"));
}

}  // namespace
}  // namespace fls
