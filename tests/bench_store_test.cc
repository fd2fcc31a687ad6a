// `fls bench space` and `fls bench catalogue` at a tiny size, through the
// real binary: the JSON rows have their fields, the figures add up, every
// restored file compared equal, and the work directory is gone afterwards.
// So that the tools measuring issue 14 keep working as the layout changes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "archive_test_util.h"
#include "test_paths.h"

namespace fls::testing {
namespace {

using Json = nlohmann::json;

struct BenchRun {
  int rc = -1;
  std::vector<Json> rows;
  std::string out, err;
};

// Runs `fls bench ARGS` with stdout parsed as JSON lines (stderr kept).
BenchRun RunBench(const TempDir& tmp, const std::string& args) {
  BenchRun r;
  const std::string err = tmp / "bench.err";
  FILE* p = ::popen((std::string(FLS_BINARY) + " bench " + args + " 2>" + err).c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = ReadFile(err);
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    Json j = Json::parse(line, nullptr, false);
    EXPECT_TRUE(j.is_object()) << "not a JSON object: " << line;
    if (j.is_object()) r.rows.push_back(j);
  }
  return r;
}

// Nothing but the bench's own stderr log is left in the --dir.
void ExpectWorkDirGone(const TempDir& tmp) {
  for (const auto& e : fs::directory_iterator(tmp.path()))
    EXPECT_EQ(e.path().filename(), "bench.err") << "left behind: " << e.path();
}

TEST(BenchStoreTest, SpaceRowsAddUpAndRestoresCompareEqual) {
  TempDir tmp;
  BenchRun r = RunBench(tmp,
                        "space --json --files 5 --min 1K --max 40K --total-min 0 "
                        "--single 1K,3K+1 --restore-sample 3 --dir " +
                            tmp.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(r.rows.size(), 4u) << r.out;
  std::map<std::string, int> seen;
  for (const Json& j : r.rows) {
    SCOPED_TRACE(j.dump());
    for (const char* key :
         {"kind", "way", "files", "source_bytes", "allocated_bytes", "apparent_bytes",
          "empty_targets_allocated", "identity_allocated", "identity_apparent", "identity_files",
          "ratio", "apparent_ratio", "floor", "ideal", "pass", "by_kind", "archive_seconds",
          "restore_checked", "restore_equal"})
      ASSERT_TRUE(j.contains(key)) << key;
    ++seen[j["kind"].get<std::string>() + "/" + j["way"].get<std::string>()];
    const auto source = j["source_bytes"].get<std::uint64_t>();
    const auto alloc = j["allocated_bytes"].get<std::uint64_t>();
    const auto apparent = j["apparent_bytes"].get<std::uint64_t>();
    // 14 chunks of 10+4 hold at least the source's bytes and 40% more.
    EXPECT_GE(apparent, source * 14 / 10);
    EXPECT_NEAR(j["ratio"].get<double>(), static_cast<double>(alloc) / source, 1e-9);
    std::uint64_t kinds_alloc = 0, kinds_apparent = 0;
    for (const auto& [kind, k] : j["by_kind"].items()) {
      kinds_alloc += k["allocated"].get<std::uint64_t>();
      kinds_apparent += k["apparent"].get<std::uint64_t>();
    }
    EXPECT_EQ(kinds_alloc, alloc);
    EXPECT_EQ(kinds_apparent, apparent);
    // The 14 empty target directories are the store, not the archive's cost.
    EXPECT_GE(j["empty_targets_allocated"].get<std::uint64_t>(), 14u);
    // `fls init` formatted the store before its baseline: one identity file
    // per target, counted apart and not in the archive's bytes.
    EXPECT_EQ(j["identity_files"].get<std::uint64_t>(), 14u);
    EXPECT_GE(j["identity_allocated"].get<std::uint64_t>(), 14u * 512);
    EXPECT_GE(j["identity_apparent"].get<std::uint64_t>(), 14u * 100);
    if (j["by_kind"].contains("other"))
      EXPECT_EQ(j["by_kind"]["other"]["entries"].get<int>(), 0) << "an identity counted as cost";
    EXPECT_GT(j["by_kind"]["chunk"]["entries"].get<int>(), 0);
    EXPECT_GT(j["by_kind"]["manifest"]["entries"].get<int>(), 0);
    EXPECT_EQ(j["pass"].get<bool>(), j["ratio"].get<double>() <= j["floor"].get<double>());
    EXPECT_DOUBLE_EQ(j["ideal"].get<double>(), 1.4);
    EXPECT_GT(j["restore_checked"].get<int>(), 0);
    EXPECT_EQ(j["restore_equal"], j["restore_checked"]);
  }
  EXPECT_EQ(seen["mix/cli"], 1);
  EXPECT_EQ(seen["mix/service"], 1);
  EXPECT_EQ(seen["single/cli"], 2);
  EXPECT_EQ(r.rows[0]["restore_checked"].get<int>(), 3);
  EXPECT_EQ(r.rows[2]["source_bytes"].get<std::uint64_t>(), 1024u);
  EXPECT_EQ(r.rows[3]["source_bytes"].get<std::uint64_t>(), 3073u);
  ExpectWorkDirGone(tmp);
}

TEST(BenchStoreTest, CatalogueRowsAtTwoStoreSizes) {
  TempDir tmp;
  BenchRun r = RunBench(tmp,
                        "catalogue --json --objects 6,3 --runs 2 --rearchive 2 --batch 2 "
                        "--dir " +
                            tmp.path());
  ASSERT_EQ(r.rc, 0) << r.err;
  std::map<std::string, int> ops;
  std::map<std::string, Json> summary;
  for (const Json& j : r.rows) {
    SCOPED_TRACE(j.dump());
    ASSERT_EQ(j.value("bench", ""), "catalogue");
    const std::string op = j.value("op", "");
    ++ops[op + (j.contains("way") ? "/" + j["way"].get<std::string>() : "")];
    if (op == "summary") {
      summary[j["figure"].get<std::string>()] = j;
      EXPECT_EQ(j["small_objects"].get<int>(), 3);
      EXPECT_EQ(j["large_objects"].get<int>(), 6);
      continue;
    }
    const int objects = j["objects"].get<int>();
    EXPECT_TRUE(objects == 3 || objects == 6);
    if (op == "info" || op == "restore" || op == "ls") {
      EXPECT_EQ(j["runs"].get<int>(), 2);
      EXPECT_EQ(j["all_s"].size(), 2u);
      EXPECT_GT(j["median_s"].get<double>(), 0);
      EXPECT_LE(j["best_s"].get<double>(), j["median_s"].get<double>());
    }
    if (op == "restore") EXPECT_TRUE(j["restore_equal"].get<bool>());
    if (op == "ls") EXPECT_EQ(j["listed"].get<int>(), objects);
    if (op == "re-archive") {
      EXPECT_EQ(j["files"].get<int>(), 2);
      EXPECT_GT(j["first_s"].get<double>(), 0);
      EXPECT_EQ(j["pass"].get<bool>(), j["ratio"].get<double>() <= 0.2);
      if (j["way"] == "cli") EXPECT_EQ(j["objects_after"].get<int>(), objects);
      if (j["way"] == "service") EXPECT_EQ(j["objects_after"], j["objects_after_first"]);
    }
  }
  for (const char* op : {"build", "archive-first/cli", "info", "restore", "ls", "re-archive/cli",
                         "re-archive/service"})
    EXPECT_EQ(ops[op], 2) << op;
  for (const char* figure : {"info", "restore"}) {
    ASSERT_TRUE(summary.count(figure)) << figure;
    const Json& j = summary[figure];
    EXPECT_DOUBLE_EQ(j["floor"].get<double>(), 1.5);
    EXPECT_GT(j["cpu_small_s"].get<double>(), 0);
    EXPECT_NEAR(j["cpu_ratio"].get<double>(),
                j["cpu_large_s"].get<double>() / j["cpu_small_s"].get<double>(), 1e-9);
    EXPECT_NEAR(j["ratio"].get<double>(), j["large_s"].get<double>() / j["small_s"].get<double>(),
                1e-9);
  }
  for (const char* figure : {"ls", "re-archive cli", "re-archive service"})
    EXPECT_TRUE(summary.count(figure)) << figure;
  ExpectWorkDirGone(tmp);
}

TEST(BenchStoreTest, BadOptionsAndABrokenBinaryAreErrors) {
  TempDir tmp;
  BenchRun r = RunBench(tmp, "space --min 2K --max 1K --dir " + tmp.path());
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--min"), std::string::npos) << r.err;
  r = RunBench(tmp, "space --single 1M+x --dir " + tmp.path());
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("1M+x"), std::string::npos) << r.err;
  // A "fls" that fails every command: the bench says which command failed.
  r = RunBench(tmp, "catalogue --objects 2,3 --runs 1 --fls /bin/false --dir " + tmp.path());
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.err.find("`fls archive"), std::string::npos) << r.err;
  EXPECT_TRUE(r.rows.empty());
  ExpectWorkDirGone(tmp);
}

}  // namespace
}  // namespace fls::testing
