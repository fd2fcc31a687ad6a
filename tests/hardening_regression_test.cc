// Regressions found by the hardening loops (issue 6): each test feeds the
// exact fault or input that exposed a bug, through the normal suite.
#include <gtest/gtest.h>

#include <cstring>

#include "archive_test_util.h"
#include "fls/archive.h"
#include "fls/fault_injection_env.h"
#include "fls/manifest.h"
#include "fls/service/config.h"
#include "fls/pack.h"
#include "test_paths.h"

namespace fls {
namespace {

using testing::TempDir;

// Found by syscall_fault_test (fiu-run, posix/io/sync/fsync = EIO): the
// directory fsync after a manifest copy's rename failed; the archive rolled
// back its chunks but left that copy in place, so `fls ls` showed an object
// whose every chunk was gone (restore: "unrecoverable"). A failed commit must
// remove the copy whose rename already happened too.
TEST(HardeningRegression, ManifestDirSyncFailureLeavesNoVisibleObject) {
  for (int failing_copy = 0; failing_copy < 3; ++failing_copy) {
    TempDir dir;
    FaultInjectionEnv env(Env::Default());
    auto store = testing::MakeStore(dir / "s", 6, &env);
    ASSERT_TRUE(store->Join().ok());  // the targets' identities come first, apart
    testing::WriteFile(dir / "in", testing::RandomBytes(200000, 3));
    FaultRule rule;
    rule.op = FaultOp::kSyncDir;
    // 6 chunk directories are synced first, then one per manifest copy.
    rule.succeed_first = 6 + failing_copy;
    rule.fail_times = 1;
    env.AddRule(rule);
    ArchiveOptions o;
    o.k = 4;
    o.m = 2;
    o.stripe_width = 64 << 10;
    o.name = "obj";
    o.backend = "isal";
    ArchiveResult r;
    Status s = ArchiveFile(*store, dir / "in", o, &r);
    ASSERT_FALSE(s.ok()) << "copy " << failing_copy;
    EXPECT_EQ(env.faults_injected(), 1);
    EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
    EXPECT_NE(s.message().find("manifest"), std::string::npos) << s.ToString();
    EXPECT_TRUE(store->ReadCatalog().objects.empty()) << "copy " << failing_copy;
    for (const auto& f : testing::AllFiles(dir / "s"))
      ADD_FAILURE() << "copy " << failing_copy << ": left behind: " << f;
  }
}

std::string FuzzRegression(const std::string& name) {
  return testing::ReadFile(std::string(FLS_TEST_DATA_DIR) + "/fuzz_regressions/" + name);
}

// Found by fuzz/manifest_fuzz: a number too large for any JSON number type
// made nlohmann throw out_of_range (not parse_error) and fls terminate on a
// damaged manifest file.
TEST(HardeningRegression, ManifestWithHugeNumberIsCorruptionNotACrash) {
  const std::string input = FuzzRegression("manifest-number-overflow");
  ASSERT_FALSE(input.empty());
  Manifest m;
  Status s = DecodeManifest(input, &m);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("number overflow"), std::string::npos) << s.ToString();
  // The same inside an otherwise valid manifest's field.
  s = DecodeManifest("{\"format\": \"fls-manifest\", \"size\": 1e999999}", &m);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
}

// Found by fuzz/pack_index_fuzz: a pack index whose "format" is not a string
// made json::value() throw outside the parser's try block, terminating the
// service while it loaded the pack directory.
TEST(HardeningRegression, PackIndexWithNonStringFormatIsCorruption) {
  const std::string input = FuzzRegression("pack-index-format-not-string");
  ASSERT_GT(input.size(), 8u);
  // The fuzz target's input: 8 bytes of claimed pack size, then the tail.
  std::uint64_t pack_size = 0;
  std::memcpy(&pack_size, input.data(), 8);
  const std::string tail = input.substr(8);
  if (pack_size & 1) pack_size = tail.size() + (pack_size >> 40);
  std::vector<PackEntry> entries;
  std::uint64_t needed = 0;
  Status s = ParsePackTail(tail, pack_size, "fls-pack/x", &entries, &needed);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  // Every non-string type in "format".
  for (const char* format : {"[1]", "{}", "7", "null", "true"}) {
    const std::string index = std::string("{\"format\":") + format + ",\"files\":[]}";
    std::string t = index;
    for (int i = 0; i < 8; ++i) t.push_back(static_cast<char>((index.size() >> (8 * i)) & 0xff));
    t += "FLSPACK1";
    s = ParsePackTail(t, t.size(), "fls-pack/x", &entries, &needed);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << format << ": " << s.ToString();
    EXPECT_NE(s.message().find("malformed index"), std::string::npos) << s.ToString();
  }
}

// Found by fuzz/protocol_fuzz: the store settings a worker receives in a
// REQUEST converted a float (6.7e134) to uint64 with get<>(), which is
// undefined behaviour, and truncated too-large integers into k and m.
TEST(HardeningRegression, StoreSettingsRefuseFloatsAndOutOfRangeIntegers) {
  const std::string input = FuzzRegression("store-json-float-as-integer");
  ASSERT_FALSE(input.empty());
  // The fuzz target's input: a selector byte, then the JSON.
  const nlohmann::json j = nlohmann::json::parse(input.substr(1));
  service::StoreConfig c;
  Status s = service::StoreConfig::FromJson(j, &c);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("batch_max_bytes"), std::string::npos) << s.ToString();
  service::StoreConfig good;
  good.targets = {{"/t/0", "a"}};
  ASSERT_TRUE(service::StoreConfig::FromJson(good.ToJson(), &c).ok());
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, nlohmann::json>>{{"k", 4294967306.0},
                                                           {"k", 4294967306LL},
                                                           {"m", -1},
                                                           {"stripe_bytes", -5},
                                                           {"pack_bytes", 1.5},
                                                           {"batch_max_files", "7"}}) {
    nlohmann::json bad = good.ToJson();
    bad[key] = value;
    s = service::StoreConfig::FromJson(bad, &c);
    EXPECT_FALSE(s.ok()) << key << " = " << value.dump();
  }
}

}  // namespace
}  // namespace fls
