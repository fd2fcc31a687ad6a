// Helpers for the confinement tests (service_confinement_test.cc,
// service_race_test.cc): the directory outside the roots with its canary
// files, a snapshot to compare it with, source trees to plant links in, and
// the checks every such test makes.
// Thread-safety: one per test.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fls/sha256.h"
#include "tests/service/service_harness.h"

namespace fls::service::testing {

// Runs the service under the resolver named by the test's parameter
// (FLS_BENEATH in the environment the harness's children inherit).
class ResolverTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { ::setenv("FLS_BENEATH", GetParam(), 1); }
  void TearDown() override { ::unsetenv("FLS_BENEATH"); }
};

inline std::string Sha256Hex(const std::string& bytes) {
  Sha256 sha;
  sha.Update(bytes.data(), bytes.size());
  return sha.FinishHex();
}

// `top`/l1/l2/file (small: packed) and `top`/l1/l2/large (above the 64 KiB
// small-file threshold: an object of its own), their bytes made from `tag`.
inline void MakeTree(const std::string& top, const std::string& tag) {
  WriteFile(top + "/l1/l2/file", tag + "-small");
  WriteFile(top + "/l1/l2/large", std::string(100000, tag[0]) + tag);
}

// The world outside the roots: a twin of the source tree and a few more
// files, all canaries. Snapshot() records every entry (bytes or link
// target, mtime) so that a test can insist nothing changed and nothing new
// appeared.
class Outside {
 public:
  explicit Outside(const std::string& base) : dir_(base + "/outside") {
    MakeTree(dir_, "CANARY");
    WriteFile(dir_ + "/f", "CANARY outside file");
    WriteFile(dir_ + "/d/canary", "CANARY in a directory");
  }
  const std::string& dir() const { return dir_; }
  // The outside twin of `rel` (a path of MakeTree's shape).
  std::string Twin(const std::string& rel) const { return dir_ + "/" + rel; }
  std::set<std::string> CanaryDigests() const {
    std::set<std::string> out;
    for (const auto& [path, v] : Snapshot())
      if (fs::is_regular_file(path)) out.insert(Sha256Hex(v.first));
    return out;
  }
  std::map<std::string, std::pair<std::string, std::int64_t>> Snapshot() const {
    std::map<std::string, std::pair<std::string, std::int64_t>> s;
    for (auto it = fs::recursive_directory_iterator(dir_); it != fs::recursive_directory_iterator();
         ++it) {
      struct stat st;
      const std::string p = it->path().string();
      if (::lstat(p.c_str(), &st) != 0) continue;
      std::string what = S_ISREG(st.st_mode)   ? ReadFile(p)
                         : S_ISLNK(st.st_mode) ? "-> " + fs::read_symlink(p).string()
                                               : "mode " + std::to_string(st.st_mode);
      s[p] = {what, static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
    }
    return s;
  }

 private:
  std::string dir_;
};

struct ProtocolErrorOf {
  std::string code, message;
};

// The ERROR a SUBMIT gets (an OK reply is a test failure).
inline ProtocolErrorOf SubmitError(ServiceHarness& h, const Json& body) {
  ServiceClient c = h.Client();
  Json r;
  Status s = c.Call("SUBMIT", body, 10000, &r);
  EXPECT_FALSE(s.ok()) << body.dump() << " was accepted: " << r.dump();
  return {r.value("code", std::string()), r.value("message", std::string())};
}

// Job `id` ends failed, every item failed with an error naming one of
// `reasons`.
inline void ExpectEveryItemFailed(ServiceHarness& h, std::int64_t id,
                                  const std::vector<std::string>& reasons) {
  Json r = h.WaitJob(id, 60000, true);
  EXPECT_EQ(r["state"], "failed") << r.dump();
  ASSERT_FALSE(r["items"].empty()) << r.dump();
  for (const auto& item : r["items"]) {
    EXPECT_EQ(item["state"], "failed") << item.dump();
    const std::string error = item.value("error", std::string());
    bool named = false;
    for (const auto& why : reasons) named = named || error.find(why) != std::string::npos;
    EXPECT_TRUE(named) << "job " << id << ": unclear error: " << item.dump();
  }
}

inline void ExpectPing(ServiceHarness& h) {
  ServiceClient c = h.Client();
  Json r;
  EXPECT_TRUE(c.Call("PING", Json::object(), 5000, &r).ok());
  EXPECT_TRUE(h.service().Running());
}

// mknod of a character device needs CAP_MKNOD (root, outside most
// containers' restrictions).
inline bool CanMknod(const std::string& dir) {
  const std::string probe = dir + "/mknod-probe";
  if (::mknod(probe.c_str(), S_IFCHR | 0600, makedev(1, 3)) != 0) return false;
  ::unlink(probe.c_str());
  return true;
}

}  // namespace fls::service::testing
