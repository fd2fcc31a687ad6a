// Unit tests of the job service's pure parts: config, protocol, path policy
// and the journal (a real SQLite file in a temporary directory).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "fls/service/config.h"
#include "fls/service/protocol.h"
#include "protocol_fuzz_entry.h"
#include "service/journal.h"
#include "service/path_policy.h"

namespace fls::service {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/fls-svc-unit-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

const char* kGoodConfig = R"(service:
  client_endpoint: tcp://127.0.0.1:7000
  heartbeat_ms: 250
store:
  targets:
    - {path: /tmp/a, domain: r1}
    - /tmp/b
  k: 4
  m: 2
  stripe: 4M
batch:
  max_bytes: 32M
  max_latency_ms: 7
  files_in_flight: 6
  small_file_threshold: 64K
roots:
  source: [/tmp]
  output: [/tmp/out]
)";

TEST(ServiceConfig, ParsesEveryKey) {
  ServiceConfig c;
  ASSERT_TRUE(ParseServiceConfig(kGoodConfig, "good.yaml", &c).ok());
  EXPECT_EQ(c.client_endpoint, "tcp://127.0.0.1:7000");
  EXPECT_EQ(c.heartbeat_ms, 250);
  ASSERT_EQ(c.store.targets.size(), 2u);
  EXPECT_EQ(c.store.targets[0].domain, "r1");
  EXPECT_EQ(c.store.targets[1].domain, "/tmp/b");
  EXPECT_EQ(c.store.k, 4);
  EXPECT_EQ(c.store.stripe_bytes, 4u << 20);
  EXPECT_EQ(c.store.batch_max_bytes, 32u << 20);
  EXPECT_EQ(c.store.batch_max_latency_ms, 7);
  EXPECT_EQ(c.store.batch_files_in_flight, 6);
  EXPECT_EQ(c.store.small_file_bytes, 64u << 10);
  EXPECT_EQ(c.output_roots, std::vector<std::string>{"/tmp/out"});
  StoreConfig back;
  ASSERT_TRUE(StoreConfig::FromJson(c.store.ToJson(), &back).ok());
  EXPECT_EQ(back.ToJson(), c.store.ToJson());
}

struct BadCase {
  std::string yaml;
  std::string expect;  // substring of the error
};

TEST(ServiceConfig, BadConfigNamesKeyAndLine) {
  const std::vector<BadCase> cases = {
      {"store:\n  targets: [/a]\n  k: ten\nroots: {source: [/]}\n", "bad.yaml:3:6: key 'store.k'"},
      {"store:\n  targets: [/a]\n  k: 300\nroots: {source: [/]}\n",
       "key 'store.k': must be between"},
      {"store:\n  targets: [/a]\n  kk: 3\nroots: {source: [/]}\n",
       "bad.yaml:3:3: key 'store.kk': unknown key"},
      {"store:\n  targets: [/a]\nroots: {source: [/]}\nservice:\n  heartbeat_liveness: 9\n",
       "bad.yaml:5:23: key 'service.heartbeat_liveness'"},
      {"store:\n  targets: []\nroots: {source: [/]}\n", "key 'store.targets'"},
      {"store:\n  targets: [/a, /a]\nroots: {source: [/]}\n", "listed twice"},
      {"store:\n  targets: [/a]\n  stripe: 10Q\nroots: {source: [/]}\n", "key 'store.stripe'"},
      {"store:\n  targets: [/a]\n  matrix: hilbert\nroots: {source: [/]}\n", "key 'store.matrix'"},
      {"store:\n  targets: [/a]\n", "key 'roots'"},
      {"store:\n  targets: [/a]\nroots: {source: [/]}\nservice:\n  client_endpoint: "
       "tcp://0.0.0.0:1\n",
       "key 'service.client_endpoint': 'tcp://0.0.0.0:1' is not a loopback address"},
      {"store:\n  targets: [/a]\nroots: {source: [/]}\nsecurity:\n  curve:\n    server_public_key: "
       "short\n    server_secret_key: x\n",
       "key 'security.curve.server_public_key'"},
      {"store: [\n", "bad.yaml:"},
      {"store:\n  targets: [/a]\nroots: {source: [/]}\nbatch:\n  files_in_flight: 0\n",
       "bad.yaml:5:20: key 'batch.files_in_flight': must be between 1 and 64"},
      {"store:\n  targets: [/a]\nroots: {source: [/]}\nbatch:\n  max_latency_ms: -1\n",
       "bad.yaml:5:19: key 'batch.max_latency_ms'"},
      {"store:\n  targets: [/a]\nroots: {source: [/]}\nbatch:\n  max_bytes: 1K\n",
       "key 'batch.max_bytes'"},
      {"store:\n  targets: [/a]\nroots: {source: [/]}\nsweep:\n  interval: 3 weeks\n",
       "bad.yaml:5:13: key 'sweep.interval': must be a duration"},
      {"store:\n  targets: [/a]\nroots: {source: [/]}\nsweep:\n  deep: maybe\n",
       "bad.yaml:5:9: key 'sweep.deep': must be true or false"},
      {"store:\n  targets: [/a]\nroots: {source: [/]}\nsweep:\n  rate: fast\n",
       "bad.yaml:5:9: key 'sweep.rate'"},
      {"store:\n  targets: [/a]\nroots: {source: [/]}\nsweep:\n  every: 1h\n",
       "bad.yaml:5:3: key 'sweep.every': unknown key"},
  };
  for (const auto& c : cases) {
    ServiceConfig cfg;
    Status s = ParseServiceConfig(c.yaml, "bad.yaml", &cfg);
    EXPECT_FALSE(s.ok()) << c.yaml;
    EXPECT_NE(s.message().find(c.expect), std::string::npos)
        << "config:\n"
        << c.yaml << "\nerror: " << s.ToString() << "\nexpected: " << c.expect;
  }
}

TEST(ServiceConfig, StoreSettingsFromTheWireAreRangeChecked) {
  ServiceConfig c;
  ASSERT_TRUE(ParseServiceConfig(kGoodConfig, "good.yaml", &c).ok());
  nlohmann::json j = c.store.ToJson();
  StoreConfig out;
  j.erase("batch_files_in_flight");  // a broker older than the key
  ASSERT_TRUE(StoreConfig::FromJson(j, &out).ok());
  EXPECT_EQ(out.batch_files_in_flight, 4);
  j["batch_files_in_flight"] = 65;
  Status s = StoreConfig::FromJson(j, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("batch_files_in_flight"), std::string::npos) << s.ToString();
  j["batch_files_in_flight"] = 2;
  j["batch_max_latency_ms"] = -5;
  EXPECT_FALSE(StoreConfig::FromJson(j, &out).ok());
}

TEST(ServiceConfig, SweepSection) {
  ServiceConfig cfg;
  ASSERT_TRUE(ParseServiceConfig("store:\n  targets: [/a]\nroots: {source: [/]}\nsweep:\n"
                                 "  interval: 24h\n  rate: 200M\n  verify_only: true\n",
                                 "ok.yaml", &cfg)
                  .ok());
  EXPECT_EQ(cfg.sweep.interval_ms, 24LL * 3600 * 1000);
  EXPECT_EQ(cfg.sweep.rate_bytes_per_s, 200ull << 20);
  EXPECT_TRUE(cfg.sweep.verify_only);
  EXPECT_FALSE(cfg.sweep.deep);
  EXPECT_EQ(cfg.HealthDbPath(), cfg.journal_path + ".health");
}

TEST(ServiceConfig, MountSection) {
  const std::string base = "store:\n  targets: [/a]\nroots: {source: [/]}\n";
  ServiceConfig cfg;
  ASSERT_TRUE(ParseServiceConfig(base, "ok.yaml", &cfg).ok());
  EXPECT_FALSE(cfg.mount.enabled());  // absent: no mount
  ASSERT_TRUE(ParseServiceConfig(base + "mount: {path: /srv/fls-view, cache: 64M, relist: 2m, "
                                        "allow_other: true}\n",
                                 "ok.yaml", &cfg)
                  .ok());
  EXPECT_TRUE(cfg.mount.enabled());
  EXPECT_EQ(cfg.mount.path, "/srv/fls-view");
  EXPECT_EQ(cfg.mount.cache_bytes, 64ull << 20);
  EXPECT_EQ(cfg.mount.relist_seconds, 120);
  EXPECT_TRUE(cfg.mount.allow_other);
  ASSERT_TRUE(ParseServiceConfig(base + "mount:\n  path: /v\n", "ok.yaml", &cfg).ok());
  EXPECT_EQ(cfg.mount.cache_bytes, 256ull << 20);
  EXPECT_EQ(cfg.mount.relist_seconds, 30);
  EXPECT_FALSE(cfg.mount.allow_other);
  const std::vector<BadCase> cases = {
      {base + "mount:\n  path: \"\"\n", "bad.yaml:5:9: key 'mount.path': must not be empty"},
      {base + "mount:\n  cache: 1G\n", "bad.yaml:5:3: key 'mount.path': is required"},
      {base + "mount:\n  path: /v\n  cache: lots\n", "bad.yaml:6:10: key 'mount.cache'"},
      {base + "mount:\n  path: /v\n  cache: -1M\n", "key 'mount.cache'"},
      {base + "mount:\n  path: /v\n  relist: 1500ms\n", "bad.yaml:6:11: key 'mount.relist'"},
      {base + "mount:\n  path: /v\n  relist: 2d\n", "key 'mount.relist'"},
      {base + "mount:\n  path: /v\n  allow_other: yes\n", "key 'mount.allow_other'"},
      {base + "mount:\n  path: /v\n  readahead: true\n",
       "bad.yaml:6:3: key 'mount.readahead': unknown key"},
      {base + "mount: /srv/view\n", "key 'mount': must be a mapping"},
  };
  for (const auto& c : cases) {
    Status s = ParseServiceConfig(c.yaml, "bad.yaml", &cfg);
    EXPECT_FALSE(s.ok()) << c.yaml;
    EXPECT_NE(s.message().find(c.expect), std::string::npos)
        << "config:\n"
        << c.yaml << "\nerror: " << s.ToString() << "\nexpected: " << c.expect;
  }
}

TEST(ServiceConfig, LoopbackEndpoints) {
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://127.0.0.1:1"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://localhost:1"));
  EXPECT_TRUE(IsLoopbackEndpoint("tcp://[::1]:1"));
  EXPECT_TRUE(IsLoopbackEndpoint("ipc:///tmp/x"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://0.0.0.0:1"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://*:1"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://10.0.0.1:1"));
  EXPECT_FALSE(IsLoopbackEndpoint("tcp://127.example.com:1"));
}

std::vector<std::string> Req(std::string verb, std::string body) {
  return {"", std::string(kClientProtocol), std::move(verb), std::move(body)};
}

TEST(Protocol, AcceptsWellFormedRequests) {
  ClientRequest r;
  bool delimited = false;
  ProtocolError e;
  ASSERT_TRUE(ParseClientRequest(Req("PING", ""), 1 << 20, &r, &delimited, &e));
  EXPECT_TRUE(delimited);
  EXPECT_EQ(r.verb, "PING");
  EXPECT_TRUE(r.body.is_object());
  ASSERT_TRUE(ParseClientRequest({std::string(kClientProtocol), "STATUS", R"({"job_id":3})"},
                                 1 << 20, &r, &delimited, &e));
  EXPECT_FALSE(delimited);
  EXPECT_TRUE(ValidateClientBody(r, 10, &e));
  ASSERT_TRUE(ParseClientRequest(Req("SUBMIT", R"({"kind":"archive","paths":["/a"],"k":4})"),
                                 1 << 20, &r, &delimited, &e));
  EXPECT_TRUE(ValidateClientBody(r, 10, &e)) << e.message;
}

TEST(Protocol, MalformedRequestsGetTheRightCode) {
  struct Case {
    std::vector<std::string> frames;
    const char* code;
  };
  const std::string big(2 << 20, 'x');
  const std::vector<Case> cases = {
      {{}, errc::kBadFrames},
      {{""}, errc::kBadFrames},
      {{"", std::string(kClientProtocol)}, errc::kBadFrames},
      {{"", std::string(kClientProtocol), "PING", "{}", "extra"}, errc::kBadFrames},
      {{"", "FLS-CLIENT/2", "PING", "{}"}, errc::kBadProtocol},
      {{"", "HTTP/1.1", "PING", "{}"}, errc::kBadProtocol},
      {{"", std::string(kClientProtocol), "FROB", "{}"}, errc::kUnknownVerb},
      {{"", std::string(kClientProtocol), "ping", "{}"}, errc::kUnknownVerb},
      {{"", std::string(kClientProtocol), "SUBMIT", "{not json"}, errc::kBadJson},
      {{"", std::string(kClientProtocol), "SUBMIT", "[1,2]"}, errc::kBadJson},
      {{"", std::string(kClientProtocol), "SUBMIT", big}, errc::kTooLarge},
  };
  for (const auto& c : cases) {
    ClientRequest r;
    bool d;
    ProtocolError e;
    EXPECT_FALSE(ParseClientRequest(c.frames, 1 << 20, &r, &d, &e));
    EXPECT_EQ(e.code, c.code) << e.message;
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(Protocol, BodyValidation) {
  struct Case {
    const char* verb;
    const char* body;
    bool ok;
  };
  const std::vector<Case> cases = {
      {"STATUS", "{}", false},
      {"STATUS", R"({"job_id":"7"})", false},
      {"STATUS", R"({"job_id":-1})", false},
      {"STATUS", R"({"job_id":1e300})", false},
      {"STATUS", R"({"job_id":3,"wait_ms":0})", true},
      {"STATUS", R"({"job_id":3,"wait_ms":30000})", true},
      {"STATUS", R"({"job_id":3,"wait_ms":30001})", false},
      {"STATUS", R"({"job_id":3,"wait_ms":-1})", false},
      {"STATUS", R"({"job_id":3,"wait_ms":1.5})", false},
      {"STATUS", R"({"job_id":3,"wait_ms":"100"})", false},
      {"STATUS", R"({"job_id":3,"wait_ms":18446744073709551615})", false},
      {"CANCEL", R"({"job_id":5})", true},
      {"LIST", R"({"limit":0})", false},
      {"LIST", R"({"limit":10,"state":"done"})", true},
      {"SUBMIT", R"({})", false},
      {"SUBMIT", R"({"kind":"format-disk"})", false},
      {"SUBMIT", R"({"kind":"archive"})", false},
      {"SUBMIT", R"({"kind":"archive","paths":[]})", false},
      {"SUBMIT", R"({"kind":"archive","paths":[1]})", false},
      {"SUBMIT", R"({"kind":"archive","paths":["/a"],"k":0})", false},
      {"SUBMIT", R"({"kind":"archive","paths":["/a","/b","/c","/d"]})", false},  // > 3 items
      {"SUBMIT", R"({"kind":"restore","objects":["a"]})", false},
      {"SUBMIT", R"({"kind":"restore","objects":["a"],"output":"/o"})", true},
      {"SUBMIT", R"({"kind":"verify","deep":"yes"})", false},
      {"SUBMIT", R"({"kind":"repair"})", true},
      {"SUBMIT", R"({"kind":"stats"})", true},
  };
  for (const auto& c : cases) {
    ClientRequest r;
    bool d;
    ProtocolError e;
    ASSERT_TRUE(ParseClientRequest(Req(c.verb, c.body), 1 << 20, &r, &d, &e)) << c.body;
    EXPECT_EQ(ValidateClientBody(r, 3, &e), c.ok) << c.verb << " " << c.body << ": " << e.message;
  }
}

TEST(Protocol, WorkerMessages) {
  WorkerMessage m;
  ProtocolError e;
  ASSERT_TRUE(ParseWorkerMessage(WorkerFrames("READY", {{"name", "w"}}), 1 << 20, &m, &e));
  EXPECT_EQ(m.command, "READY");
  EXPECT_EQ(m.body["name"], "w");
  EXPECT_FALSE(ParseWorkerMessage({"", "FLS-WORKER/0", "READY"}, 1 << 20, &m, &e));
  EXPECT_FALSE(ParseWorkerMessage({"x", std::string(kWorkerProtocol), "READY"}, 1 << 20, &m, &e));
  EXPECT_FALSE(
      ParseWorkerMessage({"", std::string(kWorkerProtocol), "READY", "{"}, 1 << 20, &m, &e));
}

TEST(PathPolicy, ConfinesSourcesAndOutputs) {
  TempDir t;
  fs::create_directories(t / "src/sub");
  fs::create_directories(t / "secret");
  std::ofstream(t / "src/sub/f") << "x";
  std::ofstream(t / "secret/key") << "k";
  fs::create_symlink(t / "secret/key", t / "src/link-out");
  fs::create_symlink(t / "src/sub/f", t / "src/link-in");
  PathPolicy p;
  ASSERT_TRUE(PathPolicy::Create({t / "src"}, {t / "out"}, &p).ok());
  std::string r;
  ASSERT_TRUE(p.ResolveSource(t / "src/sub/f", &r).ok());
  EXPECT_EQ(r, t / "src/sub/f");
  // No symbolic link is followed below a root, not even one that stays inside.
  Status s = p.ResolveSource(t / "src/link-in", &r);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("symbolic link"), std::string::npos) << s.ToString();
  EXPECT_FALSE(p.ResolveSource(t / "src/link-out", &r).ok());
  EXPECT_FALSE(p.ResolveSource(t / "src/../secret/key", &r).ok());
  EXPECT_FALSE(p.ResolveSource(t / "secret/key", &r).ok());
  EXPECT_FALSE(p.ResolveSource("src/sub/f", &r).ok());  // relative
  EXPECT_FALSE(p.ResolveSource("/etc/passwd", &r).ok());
  EXPECT_FALSE(p.ResolveSource(t / "src/missing", &r).ok());
  // A sibling whose name starts with the root's name is not under it.
  fs::create_directories(t / "src2");
  std::ofstream(t / "src2/f") << "x";
  EXPECT_FALSE(p.ResolveSource(t / "src2/f", &r).ok());

  EXPECT_TRUE(p.ResolveOutput(t / "out/new/dir", &r).ok());
  EXPECT_EQ(r, t / "out/new/dir");
  EXPECT_FALSE(p.ResolveOutput(t / "out/../secret", &r).ok());
  EXPECT_FALSE(p.ResolveOutput("/tmp", &r).ok());
  fs::create_symlink(t / "secret", t / "out/escape");
  EXPECT_FALSE(p.ResolveOutput(t / "out/escape/x", &r).ok());

  // Directory expansion refuses any link it meets, naming it.
  std::vector<std::string> files;
  s = p.ExpandSource(t / "src", 100, &files);
  EXPECT_NE(s.message().find("link-in' is a symbolic link"), std::string::npos) << s.ToString();
  fs::remove(t / "src/link-in");
  files.clear();
  s = p.ExpandSource(t / "src", 100, &files);
  EXPECT_NE(s.message().find("link-out' is a symbolic link"), std::string::npos) << s.ToString();
  fs::remove(t / "src/link-out");
  std::ofstream(t / "src/sub/g") << "y";
  files.clear();
  ASSERT_TRUE(p.ExpandSource(t / "src", 100, &files).ok());
  EXPECT_EQ(files, (std::vector<std::string>{t / "src/sub/f", t / "src/sub/g"}));
  files.clear();
  EXPECT_FALSE(p.ExpandSource(t / "src", 1, &files).ok());
  // A root may be named by its configured spelling or its real path: here
  // the root is reached through a link above it (trusted, like the config).
  fs::create_directory_symlink(t / "src", t / "src-alias");
  PathPolicy q;
  ASSERT_TRUE(PathPolicy::Create({t / "src-alias"}, {t / "out"}, &q).ok());
  ASSERT_TRUE(q.ResolveSource(t / "src-alias/sub/f", &r).ok()) << r;
  EXPECT_EQ(r, t / "src/sub/f");
  ASSERT_TRUE(q.ResolveSource(t / "src/sub/f", &r).ok());
  EXPECT_EQ(r, t / "src/sub/f");
}

TEST(Journal, SubmitStartFinishAndRecover) {
  TempDir t;
  const std::string path = t / "j/journal.sqlite";
  std::int64_t a = 0, b = 0, c = 0;
  {
    std::unique_ptr<Journal> j;
    ASSERT_TRUE(Journal::Open(path, &j).ok());
    ASSERT_TRUE(
        j->Submit("archive", {{"kind", "archive"}}, {"/x/1", "/x/2"}, {"x/1", "x/2"}, &a).ok());
    ASSERT_TRUE(j->Submit("archive", {{"kind", "archive"}}, {"/x/2"}, {"x/2"}, &b).ok());
    ASSERT_TRUE(j->Submit("repair", {{"kind", "repair"}}, {}, {"*"}, &c).ok());
    EXPECT_EQ(j->QueueDepth(), 3);
    bool started = false;
    int attempt = 0;
    ASSERT_TRUE(j->Start(a, "w1", &started, &attempt).ok());
    EXPECT_TRUE(started);
    EXPECT_EQ(attempt, 1);
    // b writes x/2 too: it must wait for a; the repair of everything as well.
    ASSERT_TRUE(j->Start(b, "w2", &started, &attempt).ok());
    EXPECT_FALSE(started);
    ASSERT_TRUE(j->Start(c, "w2", &started, &attempt).ok());
    EXPECT_FALSE(started);
    ASSERT_TRUE(j->RecordItems(a, {{"/x/1", true, {{"object", "x/1"}}, "", 10}}).ok());
    std::vector<std::string> pending;
    ASSERT_TRUE(j->PendingItems(a, &pending).ok());
    EXPECT_EQ(pending, std::vector<std::string>{"/x/2"});
    // The process dies here (the journal object goes away without Finish).
  }
  std::unique_ptr<Journal> j;
  ASSERT_TRUE(Journal::Open(path, &j).ok());
  int requeued = 0;
  ASSERT_TRUE(j->Recover(&requeued).ok());
  EXPECT_EQ(requeued, 1);
  JobRecord rec;
  ASSERT_TRUE(j->Get(a, true, &rec).ok());
  EXPECT_EQ(rec.state, "queued");
  EXPECT_EQ(rec.items_done, 1);
  EXPECT_EQ(rec.items_total, 2);
  EXPECT_EQ(rec.bytes, 10u);
  ASSERT_EQ(rec.items.size(), 2u);
  EXPECT_EQ(rec.items[0].state, "done");
  EXPECT_EQ(rec.items[0].result["object"], "x/1");
  // Leases were dropped with the dead run: b may start now, then a waits.
  bool started = false;
  int attempt = 0;
  ASSERT_TRUE(j->Start(b, "w3", &started, &attempt).ok());
  EXPECT_TRUE(started);
  ASSERT_TRUE(j->Start(a, "w4", &started, &attempt).ok());
  EXPECT_FALSE(started);
  ASSERT_TRUE(j->Finish(b, "done", "", "isal", 0.5).ok());
  ASSERT_TRUE(j->Start(a, "w4", &started, &attempt).ok());
  EXPECT_TRUE(started);
  EXPECT_EQ(attempt, 2);
  ASSERT_TRUE(j->Requeue(a, "worker died").ok());
  ASSERT_TRUE(j->Get(a, false, &rec).ok());
  EXPECT_EQ(rec.state, "queued");
  EXPECT_EQ(rec.error, "worker died");
  // Cancel: a queued job ends at once; a finished one cannot be cancelled.
  bool now = false;
  ASSERT_TRUE(j->RequestCancel(a, &now).ok());
  EXPECT_TRUE(now);
  EXPECT_FALSE(j->RequestCancel(b, &now).ok());
  EXPECT_FALSE(j->Close(c).ok());  // still queued
  ASSERT_TRUE(j->Close(b).ok());
  EXPECT_EQ(j->Get(b, false, &rec).code(), Status::Code::kNotFound);
  JournalStats st;
  ASSERT_TRUE(j->Stats(&st).ok());
  EXPECT_EQ(st.jobs_by_state["cancelled"], 1);
  EXPECT_EQ(st.jobs_by_state["queued"], 1);
}

TEST(Journal, OpenFailsClearly) {
  std::unique_ptr<Journal> j;
  Status s = Journal::Open("/proc/no/such/journal.sqlite", &j);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/proc/no/such/journal.sqlite"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace fls::service

namespace fls::service::testing {
namespace {

// The fuzz entry over a deterministic corpus: random bytes, and valid
// messages with random bytes flipped, cut or appended. Any crash, hang or
// escaped exception fails the test.
TEST(ProtocolFuzzReplay, RandomAndMutatedInputs) {
  std::mt19937_64 rng(2026);
  const std::vector<std::string> seeds = {
      std::string("\xff") + "FLS-CLIENT/1\xffSUBMIT\xff{\"kind\":\"archive\",\"paths\":[\"/a\"]}",
      std::string("\xff") + "FLS-CLIENT/1\xffSTATUS\xff{\"job_id\":1,\"files\":true}",
      std::string("\xff") +
          "FLS-WORKER/1\xffPROGRESS\xff{\"job_id\":1,\"items\":[{\"name\":\"x\"}]}",
      std::string("{\"format\":\"fls-pack/1\",\"files\":[{\"name\":\"a\",\"offset\":0,\"length\":0,"
                  "\"sha256\":\"\",\"mode\":420,\"mtime_ns\":0}]}") +
          std::string("\x6e\0\0\0\0\0\0\0", 8) + "FLSPACK1"};
  for (int n = 0; n < 20000; ++n) {
    std::string in;
    if (n % 2 == 0) {
      in.resize(rng() % 200);
      for (auto& c : in) c = static_cast<char>(rng());
    } else {
      in = seeds[rng() % seeds.size()];
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !in.empty(); ++e) {
        const std::size_t at = rng() % in.size();
        switch (rng() % 3) {
          case 0:
            in[at] = static_cast<char>(rng());
            break;
          case 1:
            in.resize(at);
            break;
          default:
            in.insert(at, 1, static_cast<char>(rng()));
        }
      }
    }
    FuzzProtocolInput(reinterpret_cast<const std::uint8_t*>(in.data()), in.size());
  }
  SUCCEED();
}

}  // namespace
}  // namespace fls::service::testing
