// Unit tests of the job types (fls/service/jobs.h): every kind's spec and the
// worker REQUEST round-trip through their JSON form, field by field, and
// every missing or ill-typed field is refused with an error naming it.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "fls/service/jobs.h"

namespace fls::service {
namespace {

using nlohmann::json;

// Parses `body`, expects success, and returns the spec's JSON form.
json RoundTrip(const json& body, JobKind expected_kind) {
  JobSpec spec;
  Status s = JobSpecFromJson(body, &spec);
  EXPECT_TRUE(s.ok()) << body.dump() << ": " << s.ToString();
  EXPECT_EQ(KindOf(spec), expected_kind) << body.dump();
  return JobSpecToJson(spec);
}

TEST(JobTypes, EveryKindHasOneNameThatParsesBack) {
  std::vector<std::string> names;
  for (JobKind k : kAllJobKinds) {
    JobKind parsed = JobKind::kStats;
    ASSERT_TRUE(ParseJobKind(JobKindName(k), &parsed).ok()) << JobKindName(k);
    EXPECT_EQ(parsed, k);
    names.emplace_back(JobKindName(k));
  }
  EXPECT_EQ(names, (std::vector<std::string>{"archive", "restore", "verify", "repair", "stats",
                                              "delete", "compact"}));
  EXPECT_EQ(JobKindList(), "archive, restore, verify, repair, stats, delete, compact");
}

TEST(JobTypes, EveryKindRoundTripsThroughJson) {
  // Each kind with every field it has, then with only its required ones:
  // the JSON form comes back field for field, absent fields absent.
  const std::vector<std::pair<JobKind, json>> cases = {
      {JobKind::kArchive,
       {{"kind", "archive"},
        {"paths", {"/a", "/b/c"}},
        {"name_prefix", "p/"},
        {"k", 6},
        {"m", 3},
        {"checksum", true}}},
      {JobKind::kArchive, {{"kind", "archive"}, {"paths", {"/a"}}}},
      {JobKind::kRestore, {{"kind", "restore"}, {"objects", {"x", "y/z"}}, {"output", "/out"}}},
      {JobKind::kVerify, {{"kind", "verify"}, {"objects", {"x"}}, {"deep", true}}},
      {JobKind::kVerify, {{"kind", "verify"}}},
      {JobKind::kVerify, {{"kind", "verify"}, {"objects", json::array()}}},
      {JobKind::kRepair,
       {{"kind", "repair"},
        {"deep", false},
        {"sweep", {{"verify_only", true}, {"deep", true}, {"rate_bytes_per_s", 1000000}}},
        {"health_db", "/var/fls/health.sqlite"},
        {"scheduled", true}}},
      {JobKind::kRepair, {{"kind", "repair"}, {"objects", {"a", "b"}}}},
      {JobKind::kRepair, {{"kind", "repair"}, {"sweep", json::object()}}},
      {JobKind::kRepair, {{"kind", "repair"}}},
      {JobKind::kStats, {{"kind", "stats"}}},
      {JobKind::kDelete,
       {{"kind", "delete"}, {"objects", {"a"}}, {"force", true}, {"override_retention", false}}},
      {JobKind::kDelete, {{"kind", "delete"}, {"objects", {"a", "b"}}}},
      {JobKind::kCompact, {{"kind", "compact"}, {"min_dead_percent", 25.5}}},
      {JobKind::kCompact, {{"kind", "compact"}}},
      {JobKind::kArchive, {{"kind", "archive"}, {"paths", {"/a"}}, {"retain_until", "2030-01-01"}}},
  };
  std::vector<bool> seen(std::size(kAllJobKinds), false);
  for (const auto& [kind, body] : cases) {
    EXPECT_EQ(RoundTrip(body, kind), body);
    seen[static_cast<int>(kind)] = true;
  }
  for (JobKind k : kAllJobKinds) EXPECT_TRUE(seen[static_cast<int>(k)]) << JobKindName(k);
}

TEST(JobTypes, TypedSpecsRoundTripToTheSameValues) {
  ArchiveSpec a;
  a.paths = {"/data/x"};
  a.k = 10;
  JobSpec spec;
  ASSERT_TRUE(JobSpecFromJson(a.ToJson(), &spec).ok());
  const auto& back = std::get<ArchiveSpec>(spec);
  EXPECT_EQ(back.paths, a.paths);
  EXPECT_EQ(back.k, 10);
  EXPECT_FALSE(back.m.has_value());
  EXPECT_FALSE(back.name_prefix.has_value());

  RepairSpec r;
  r.sweep = SweepSpec{false, true, 5u};
  ASSERT_TRUE(JobSpecFromJson(JobKind::kRepair, r.ToJson(), &spec).ok());
  const auto& rb = std::get<RepairSpec>(spec);
  EXPECT_TRUE(rb.Everything());
  ASSERT_TRUE(rb.sweep.has_value());
  EXPECT_EQ(rb.sweep->verify_only, false);
  EXPECT_EQ(rb.sweep->deep, true);
  EXPECT_EQ(rb.sweep->rate_bytes_per_s, 5u);
}

TEST(JobTypes, UnknownFieldsAreIgnoredAndNotKept) {
  const json body = {{"kind", "stats"}, {"colour", "blue"}};
  EXPECT_EQ(RoundTrip(body, JobKind::kStats), json({{"kind", "stats"}}));
}

TEST(JobTypes, UnknownOrMissingKindIsNamed) {
  JobSpec spec;
  Status s = JobSpecFromJson(json{{"kind", "format-disk"}}, &spec);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "unknown job kind 'format-disk'");
  s = JobSpecFromJson(json{{"paths", {"/a"}}}, &spec);
  EXPECT_EQ(s.message(),
            "field 'kind' is required (archive, restore, verify, repair, stats, delete, compact)");
  s = JobSpecFromJson(json{{"kind", 3}}, &spec);
  EXPECT_NE(s.message().find("field 'kind'"), std::string::npos) << s.ToString();
  JobKind kind;
  s = ParseJobKind("Archive", &kind);  // case-sensitive
  EXPECT_EQ(s.message(), "unknown job kind 'Archive'");
}

TEST(JobTypes, MissingOrIllTypedFieldsAreNamed) {
  struct Case {
    json body;
    const char* message;  // the whole message: it goes to clients as is
  };
  const std::vector<Case> cases = {
      {{{"kind", "archive"}}, "field 'paths' is required"},
      {{{"kind", "delete"}}, "field 'objects' is required"},
      {{{"kind", "compact"}, {"min_dead_percent", 101}},
       "field 'min_dead_percent' must be a number from 0 to 100"},
      {{{"kind", "archive"}, {"paths", "/a"}}, "field 'paths' must be a list of strings"},
      {{{"kind", "archive"}, {"paths", json::array()}}, "field 'paths' must not be empty"},
      {{{"kind", "archive"}, {"paths", {"/a", 1}}}, "field 'paths' must hold non-empty strings"},
      {{{"kind", "archive"}, {"paths", {""}}}, "field 'paths' must hold non-empty strings"},
      {{{"kind", "archive"}, {"paths", {std::string("/a\0b", 4)}}},
       "field 'paths' must hold non-empty strings"},
      {{{"kind", "archive"}, {"paths", {"/a"}}, {"k", 0}}, "field 'k' must be 1 to 255"},
      {{{"kind", "archive"}, {"paths", {"/a"}}, {"checksum", "yes"}},
       "field 'checksum' must be true or false"},
      {{{"kind", "archive"}, {"paths", {"/a"}}, {"k", "4"}}, "field 'k' must be 1 to 255"},
      {{{"kind", "archive"}, {"paths", {"/a"}}, {"k", 4.0}}, "field 'k' must be 1 to 255"},
      {{{"kind", "archive"}, {"paths", {"/a"}}, {"m", 256}}, "field 'm' must be 1 to 255"},
      {{{"kind", "archive"}, {"paths", {"/a"}}, {"m", 18446744073709551615ull}},
       "field 'm' must be 1 to 255"},
      {{{"kind", "archive"}, {"paths", {"/a"}}, {"name_prefix", 7}},
       "field 'name_prefix' must be a string"},
      {{{"kind", "restore"}, {"output", "/o"}}, "field 'objects' is required"},
      {{{"kind", "restore"}, {"objects", {"a"}}},
       "field 'output' (a directory under an output root) is required"},
      {{{"kind", "restore"}, {"objects", {"a"}}, {"output", false}},
       "field 'output' (a directory under an output root) is required"},
      {{{"kind", "verify"}, {"objects", "a"}}, "field 'objects' must be a list of strings"},
      {{{"kind", "verify"}, {"deep", "yes"}}, "field 'deep' must be true or false"},
      {{{"kind", "verify"}, {"sweep", json::object()}},
       "field 'sweep' is an object of repair jobs only"},
      {{{"kind", "repair"}, {"sweep", true}}, "field 'sweep' is an object of repair jobs only"},
      {{{"kind", "repair"}, {"deep", 1}}, "field 'deep' must be true or false"},
      {{{"kind", "repair"}, {"sweep", {{"fast", true}}}},
       "field 'sweep.fast' unknown or mistyped (verify_only, deep: booleans; rate_bytes_per_s: "
       "a non-negative integer)"},
      {{{"kind", "repair"}, {"sweep", {{"rate_bytes_per_s", -1}}}},
       "field 'sweep.rate_bytes_per_s' unknown or mistyped (verify_only, deep: booleans; "
       "rate_bytes_per_s: a non-negative integer)"},
      {{{"kind", "repair"}, {"health_db", 5}}, "field 'health_db' must be a string"},
      {{{"kind", "repair"}, {"scheduled", "yes"}}, "field 'scheduled' must be true or false"},
  };
  for (const Case& c : cases) {
    JobSpec spec;
    Status s = JobSpecFromJson(c.body, &spec);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << c.body.dump();
    EXPECT_EQ(s.message(), c.message) << c.body.dump();
  }
}

WorkerRequest SampleRequest() {
  WorkerRequest r;
  r.job_id = 42;
  r.attempt = 2;
  ArchiveSpec a;
  a.paths = {"/src/data"};
  a.name_prefix = "n/";
  r.spec = a;
  r.items = {"/src/data/a", "/src/data/b"};
  r.store.targets = {{"/t0", "d0"}, {"/t1", "d1"}};
  r.store.k = 6;
  r.store.m = 2;
  r.source_roots = {"/src"};
  r.output_roots = {"/out", "/out2"};
  return r;
}

TEST(JobTypes, WorkerRequestRoundTripsInItsWireForm) {
  const WorkerRequest r = SampleRequest();
  const json j = r.ToJson();
  // The field names of docs/PROTOCOL.md §4.
  for (const char* key : {"job_id", "attempt", "kind", "spec", "items", "store", "roots"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["kind"], "archive");
  EXPECT_EQ(j["spec"]["kind"], "archive");
  EXPECT_EQ(j["roots"]["source"], json({"/src"}));
  EXPECT_EQ(j["roots"]["output"], json({"/out", "/out2"}));
  EXPECT_EQ(j["store"], r.store.ToJson());

  WorkerRequest back;
  ASSERT_TRUE(WorkerRequest::FromJson(j, &back).ok());
  EXPECT_EQ(back.job_id, 42);
  EXPECT_EQ(back.attempt, 2);
  EXPECT_EQ(KindOf(back.spec), JobKind::kArchive);
  EXPECT_EQ(back.items, r.items);
  EXPECT_EQ(back.store.k, 6);
  ASSERT_EQ(back.store.targets.size(), 2u);
  EXPECT_EQ(back.store.targets[1].domain, "d1");
  EXPECT_EQ(back.ToJson(), j);

  // Every kind travels in a REQUEST.
  for (const json& body :
       {json{{"kind", "restore"}, {"objects", {"o"}}, {"output", "/out"}}, json{{"kind", "verify"}},
        json{{"kind", "repair"}}, json{{"kind", "stats"}}}) {
    WorkerRequest w = SampleRequest();
    ASSERT_TRUE(JobSpecFromJson(body, &w.spec).ok());
    WorkerRequest wb;
    ASSERT_TRUE(WorkerRequest::FromJson(w.ToJson(), &wb).ok()) << body.dump();
    EXPECT_EQ(JobSpecToJson(wb.spec), body);
  }
}

TEST(JobTypes, WorkerRequestErrorsNameTheField) {
  const json good = SampleRequest().ToJson();
  struct Case {
    std::function<void(json&)> edit;
    const char* message;
  };
  const std::vector<Case> cases = {
      {[](json& j) { j.erase("job_id"); }, "REQUEST: field 'job_id' is required"},
      {[](json& j) { j["job_id"] = "42"; }, "REQUEST: field 'job_id' is not an integer"},
      {[](json& j) { j["job_id"] = 1e300; }, "REQUEST: field 'job_id' is not an integer"},
      {[](json& j) { j["attempt"] = 1ull << 40; }, "REQUEST: field 'attempt' is too large"},
      {[](json& j) { j.erase("kind"); }, "REQUEST: field 'kind' is required"},
      {[](json& j) { j["kind"] = "frob"; }, "REQUEST: unknown job kind 'frob'"},
      {[](json& j) { j.erase("spec"); }, "REQUEST: field 'spec' is required"},
      {[](json& j) { j["spec"] = 3; }, "REQUEST: spec: a job spec must be a JSON object"},
      {[](json& j) { j["spec"]["k"] = 0; }, "REQUEST: spec: field 'k' must be 1 to 255"},
      {[](json& j) { j.erase("items"); }, "REQUEST: field 'items' is required"},
      {[](json& j) { j["items"] = {1}; }, "REQUEST: field 'items' must be a list of strings"},
      {[](json& j) { j.erase("store"); }, "REQUEST: field 'store' is required"},
      {[](json& j) { j["store"]["k"] = "x"; }, "REQUEST: store: "},
      {[](json& j) { j.erase("roots"); }, "REQUEST: field 'roots' (an object: source, output)"},
      {[](json& j) { j["roots"].erase("source"); }, "REQUEST: field 'roots.source' is required"},
      {[](json& j) { j["roots"]["output"] = "/o"; },
       "REQUEST: field 'roots.output' must be a list of strings"},
  };
  for (const Case& c : cases) {
    json j = good;
    c.edit(j);
    WorkerRequest r;
    Status s = WorkerRequest::FromJson(j, &r);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << j.dump();
    EXPECT_EQ(s.message().rfind(c.message, 0), 0u) << s.message();
  }
  // job_id and attempt are read first: a refusal can name the job.
  json j = good;
  j.erase("items");
  WorkerRequest r;
  EXPECT_FALSE(WorkerRequest::FromJson(j, &r).ok());
  EXPECT_EQ(r.job_id, 42);
  EXPECT_EQ(r.attempt, 2);
}

}  // namespace
}  // namespace fls::service
