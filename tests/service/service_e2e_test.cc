// End-to-end tests of the job service: real `fls serve` and `fls worker`
// processes on loopback, driven through the wire protocol.
#include "service_harness.h"

#include <zmq.hpp>

#include "fls/service/protocol.h"
#include "fls/service/zmq_util.h"

namespace fls::service::testing {
namespace {

TEST(ServiceE2E, ArchiveThenRestoreIsBitExact) {
  ServiceHarness h;
  h.Start();
  std::map<std::string, std::string> files;
  files[h.src() + "/empty"] = "";
  files[h.src() + "/one"] = "x";
  files[h.src() + "/big.bin"] = RandomString(3 * 256 * 1024 + 17, 1);  // several stripes
  for (const auto& [p, b] : files) WriteFile(p, b);
  auto dir_files = h.MakeFiles("dir", 5, 5000, 2);
  const std::int64_t id = h.Submit(
      {{"kind", "archive"},
       {"paths", {h.src() + "/empty", h.src() + "/one", h.src() + "/big.bin", h.src() + "/dir"}}});
  ASSERT_GT(id, 0);
  Json r = h.WaitJob(id, 60000, true);
  ASSERT_EQ(r["state"], "done") << r.dump();
  EXPECT_EQ(r["items_total"], 8);
  EXPECT_EQ(r["items_done"], 8);
  for (const auto& item : r["items"]) {
    EXPECT_EQ(item["state"], "done");
    EXPECT_EQ(item["result"]["object"], item["name"].get<std::string>().substr(1));
    // Files under 64 KiB go into a pack; big.bin is an object of its own.
    EXPECT_EQ(item["result"].contains("pack"), item["name"] != h.src() + "/big.bin") << item.dump();
  }
  files.insert(dir_files.begin(), dir_files.end());
  h.ExpectRestoresBitExact(files, "r1");

  // The CLI client: submit --wait, jobs, job, stats.
  WriteFile(h.src() + "/cli.txt", "through the command line\n");
  std::string out;
  ASSERT_EQ(RunFls({"submit", "archive", h.src() + "/cli.txt", "--endpoint", h.client_endpoint(),
                    "--wait", "--json"},
                   &out),
            0)
      << out;
  EXPECT_EQ(Json::parse(out)["state"], "done") << out;
  ASSERT_EQ(RunFls({"jobs", "--endpoint", h.client_endpoint(), "--json"}, &out), 0) << out;
  EXPECT_GE(Json::parse(out)["jobs"].size(), 3u);
  ASSERT_EQ(RunFls({"stats", "--endpoint", h.client_endpoint(), "--json"}, &out), 0) << out;
  Json stats = Json::parse(out);
  EXPECT_EQ(stats["jobs"]["done"], 3);
  EXPECT_EQ(stats["workers"], 2);
  EXPECT_EQ(stats["queue_depth"], 0);
  EXPECT_FALSE(stats["backends"].empty()) << out;
  // Verify (deep) of everything finds every object healthy.
  const std::int64_t v = h.Submit({{"kind", "verify"}, {"deep", true}});
  Json vr = h.WaitJob(v, 60000, true);
  EXPECT_EQ(vr["state"], "done") << vr.dump();
  // big.bin on its own; the small files in packs of at most 16.
  EXPECT_EQ(vr["items_done"], vr["items_total"]);
  EXPECT_GE(vr["items_done"].get<int>(), 3);
  int packs = 0;
  for (const auto& item : vr["items"]) {
    EXPECT_EQ(item["result"]["health"], "healthy") << item.dump();
    packs += item["name"].get<std::string>().rfind("fls-pack/", 0) == 0;
  }
  EXPECT_EQ(packs, vr["items_done"].get<int>() - 1);
  // Re-archiving the same bytes under the same names is safe: done, nothing new.
  const std::int64_t again = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/dir"}}});
  Json ar = h.WaitJob(again, 60000, true);
  EXPECT_EQ(ar["state"], "done") << ar.dump();
  for (const auto& item : ar["items"]) {
    EXPECT_EQ(item["result"]["already_archived"], true) << item.dump();
    EXPECT_EQ(item["result"]["unchanged"], true) << item.dump();
  }
}

// Object names are the files' paths: a directory holding a file whose name
// is not UTF-8 is refused at SUBMIT (path_rejected, the byte named; control
// characters are refused so already), and nothing is written. Archiving a
// changed file under an archived name fails its item, named.
TEST(ServiceE2E, NonUtf8NamesAreRefusedAndChangedFilesFailTheirItem) {
  ServiceHarness h;
  h.Start();
  WriteFile(h.src() + "/mix/good.txt", "good");
  WriteFile(h.src() +
                "/mix/bad\xff"
                "small",
            "small");
  Json reply;
  const Status s = h.Client().Call("SUBMIT", {{"kind", "archive"}, {"paths", {h.src() + "/mix"}}},
                                   10000, &reply);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("path_rejected"), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("not valid UTF-8 at byte"), std::string::npos) << s.ToString();
  for (const auto& t : h.targets())
    if (fs::exists(t)) EXPECT_TRUE(fs::is_empty(t)) << t;
  // The good file changed (other size): refused, named.
  WriteFile(h.src() + "/again/good.txt", "good");
  const std::int64_t first = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/again"}}});
  ASSERT_EQ(h.WaitJob(first, 60000, true)["state"], "done");
  WriteFile(h.src() + "/again/good.txt", "good, but longer");
  const std::int64_t again = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/again"}}});
  Json ar = h.WaitJob(again, 60000, true);
  EXPECT_EQ(ar["state"], "failed") << ar.dump();
  ASSERT_EQ(ar["items"].size(), 1u);
  EXPECT_NE(ar["items"][0]["error"].get<std::string>().find("already archived with other content"),
            std::string::npos)
      << ar.dump();
}

// Sends raw frames on a DEALER and returns the reply frames (empty on timeout).
std::vector<std::string> RawCall(zmq::socket_t& s, const std::vector<std::string>& frames) {
  if (!SendFrames(s, frames)) return {};
  zmq::pollitem_t item = {static_cast<void*>(s), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, std::chrono::milliseconds(5000));
  std::vector<std::string> reply;
  if (item.revents & ZMQ_POLLIN) RecvFrames(s, &reply);
  return reply;
}

TEST(ServiceE2E, MalformedMessagesGetErrorRepliesAndPingStillAnswers) {
  ServiceHarness h;  // max_message_bytes 64K
  h.Start();
  fs::create_directories(h.dir() + "/outside");
  WriteFile(h.dir() + "/outside/secret", "s");
  fs::create_symlink(h.dir() + "/outside/secret", h.src() + "/link-out");
  WriteFile(h.src() + "/ok", "ok");
  const std::string P(kClientProtocol);
  struct Case {
    std::vector<std::string> frames;
    std::string code;
  };
  const std::vector<Case> corpus = {
      {{""}, errc::kBadFrames},
      {{"", P}, errc::kBadFrames},
      {{"", P, "PING", "{}", "x", "y"}, errc::kBadFrames},
      {{"", "FLS-CLIENT/9", "PING", "{}"}, errc::kBadProtocol},
      {{"", "GET / HTTP/1.1", "PING"}, errc::kBadProtocol},
      {{"", P, "DESTROY", "{}"}, errc::kUnknownVerb},
      {{"", P, "SUBMIT", "{\"kind\":"}, errc::kBadJson},
      {{"", P, "SUBMIT", "\"just a string\""}, errc::kBadJson},
      {{"", P, "SUBMIT", std::string(100000, '{')}, errc::kTooLarge},
      {{"", P, "STATUS", "{\"job_id\": 18446744073709551615}"}, errc::kBadRequest},
      {{"", P, "STATUS", "{\"job_id\": 424242}"}, errc::kNotFound},
      {{"", P, "SUBMIT", "{\"kind\":\"archive\",\"paths\":[\"/etc/passwd\"]}"},
       errc::kPathRejected},
      {{"", P, "SUBMIT",
        Json{{"kind", "archive"}, {"paths", {h.src() + "/../outside/secret"}}}.dump()},
       errc::kPathRejected},
      {{"", P, "SUBMIT", Json{{"kind", "archive"}, {"paths", {h.src() + "/link-out"}}}.dump()},
       errc::kPathRejected},
      {{"", P, "SUBMIT", Json{{"kind", "archive"}, {"paths", {"relative/path"}}}.dump()},
       errc::kPathRejected},
      {{"", P, "SUBMIT",
        Json{{"kind", "restore"}, {"objects", {"../../etc/x"}}, {"output", h.out() + "/r"}}.dump()},
       errc::kPathRejected},
      {{"", P, "SUBMIT",
        Json{{"kind", "restore"}, {"objects", {"a"}}, {"output", h.dir() + "/outside"}}.dump()},
       errc::kPathRejected},
      {{"", P, "SUBMIT", Json{{"kind", "archive"}, {"paths", Json::array()}}.dump()},
       errc::kBadRequest},
      {{"", P, "CLOSE", "{}"}, errc::kBadRequest},
  };
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(h.client_endpoint());
  for (const auto& c : corpus) {
    std::vector<std::string> reply = RawCall(s, c.frames);
    ASSERT_EQ(reply.size(), 4u) << "no well-formed reply to " << c.frames.size() << " frames";
    EXPECT_EQ(reply[1], P);
    EXPECT_EQ(reply[2], "ERROR");
    Json body = Json::parse(reply[3]);
    EXPECT_EQ(body["code"], c.code) << body.dump();
    EXPECT_FALSE(body["message"].get<std::string>().empty());
  }
  // A message above the transport cap (4 x max_message_bytes) drops that
  // connection; a new one is served.
  SendFrames(s, {"", P, "SUBMIT", std::string(1 << 20, 'x')});
  zmq::socket_t s2(ctx, zmq::socket_type::dealer);
  s2.set(zmq::sockopt::linger, 0);
  s2.connect(h.client_endpoint());
  // Without the delimiter frame (a bare DEALER) it works as well.
  std::vector<std::string> pong = RawCall(s2, {P, "PING", "{}"});
  ASSERT_EQ(pong.size(), 3u);
  EXPECT_EQ(pong[1], "OK");
  // A misbehaving worker: malformed frames, wrong types in its bodies, results
  // for jobs it does not hold. The broker drops them and goes on.
  const std::string W(kWorkerProtocol);
  zmq::socket_t bad_worker(ctx, zmq::socket_type::dealer);
  bad_worker.set(zmq::sockopt::linger, 0);
  bad_worker.connect(h.worker_endpoint());
  for (const std::vector<std::string>& f : std::vector<std::vector<std::string>>{
           {"", W, "READY", "{\"name\": 7}"},
           {"", W, "READY", "{\"name\": \"evil\"}"},
           {"", W, "PROGRESS", "{\"job_id\": \"x\", \"items\": 5}"},
           {"", W, "PROGRESS",
            "{\"job_id\": 1, \"attempt\": 1, \"items\": [{\"name\": \"a\", \"ok\": \"yes\"}]}"},
           {"", W, "REPLY", "{\"job_id\": 99, \"attempt\": 1, \"status\": 3}"},
           {"", W, "FROB"},
           {"", "FLS-WORKER/0", "READY"},
           {"x"},
           {"", W, "HEARTBEAT", "not json"}})
    SendFrames(bad_worker, f);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // And a normal client still gets PING and real work answered.
  Json r = h.Call("PING", Json::object());
  EXPECT_EQ(r["pong"], true);
  const std::int64_t id = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/ok"}}});
  EXPECT_EQ(h.WaitJob(id)["state"], "done");
  EXPECT_TRUE(h.service().Running()) << "the service must still be running";
}

TEST(ServiceE2E, CancelQueuedAndRunningJobs) {
  ServiceOptions o;
  o.in_process_workers = 0;  // nothing runs until a worker process joins
  ServiceHarness h(o);
  h.Start();
  auto files = h.MakeFiles("many", 150, 2000, 3);
  const std::int64_t queued = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/many"}}});
  Json st = h.Call("STATUS", {{"job_id", queued}});
  EXPECT_EQ(st["state"], "queued");
  Json c = h.Call("CANCEL", {{"job_id", queued}});
  EXPECT_EQ(c["state"], "cancelled");
  EXPECT_EQ(h.Call("STATUS", {{"job_id", queued}})["state"], "cancelled");
  // Cancelling again is a conflict; closing it forgets it.
  ServiceClient cl = h.Client();
  Json err;
  EXPECT_FALSE(cl.Call("CANCEL", {{"job_id", queued}}, 5000, &err).ok());
  EXPECT_EQ(err["code"], errc::kConflict);
  h.Call("CLOSE", {{"job_id", queued}});
  EXPECT_EQ(cl.Call("STATUS", {{"job_id", queued}}, 5000, &err).code(), Status::Code::kNotFound);

  const std::int64_t running = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/many"}}});
  h.StartWorker("w1");
  h.WaitUntil(running, [](const Json& j) { return j.value("items_done", 0) >= 2; });
  h.Call("CANCEL", {{"job_id", running}});
  Json r = h.WaitJob(running);
  EXPECT_EQ(r["state"], "cancelled") << r.dump();
  EXPECT_LT(r["items_done"].get<int>(), 150);
  // The worker is free again and takes new work.
  WriteFile(h.src() + "/after", "after");
  const std::int64_t after = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/after"}}});
  EXPECT_EQ(h.WaitJob(after)["state"], "done");
}

TEST(ServiceE2E, TwoClientsAtOnce) {
  ServiceHarness h;
  h.Start();
  auto a = h.MakeFiles("a", 12, 40000, 4);
  auto b = h.MakeFiles("b", 12, 40000, 5);
  std::vector<Json> results(2);
  auto run = [&](int i, const std::string& dir) {
    ServiceClient c = h.Client();
    Json r;
    Status s = c.Call("SUBMIT", {{"kind", "archive"}, {"paths", {dir}}}, 10000, &r);
    if (!s.ok()) return;
    results[i] = h.WaitJob(r["job_id"].get<std::int64_t>());
  };
  std::thread t1(run, 0, h.src() + "/a"), t2(run, 1, h.src() + "/b");
  t1.join();
  t2.join();
  EXPECT_EQ(results[0].value("state", ""), "done") << results[0].dump();
  EXPECT_EQ(results[1].value("state", ""), "done") << results[1].dump();
  a.insert(b.begin(), b.end());
  h.ExpectRestoresBitExact(a, "both");
}

TEST(ServiceE2E, WorkerProcessBesideInProcessWorkers) {
  ServiceOptions o;
  o.in_process_workers = 1;
  ServiceHarness h(o);
  h.Start();
  h.StartWorker("remote-1");
  for (int i = 0; i < 200; ++i) {
    if (h.Call("STATS", Json::object()).value("workers", 0) == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_EQ(h.Call("STATS", Json::object())["workers"], 2);
  std::vector<std::int64_t> ids;
  std::map<std::string, std::string> all;
  for (int j = 0; j < 6; ++j) {
    auto f = h.MakeFiles("set" + std::to_string(j), 4, 30000, 10 + j);
    all.insert(f.begin(), f.end());
    ids.push_back(
        h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/set" + std::to_string(j)}}}));
  }
  std::set<std::string> workers;
  for (auto id : ids) {
    Json r = h.WaitJob(id);
    EXPECT_EQ(r["state"], "done") << r.dump();
    workers.insert(r.value("worker", std::string()));
  }
  EXPECT_TRUE(workers.count("remote-1")) << "no job ran on the worker process";
  EXPECT_EQ(workers.size(), 2u);
  h.ExpectRestoresBitExact(all, "mixed");
}

TEST(ServiceE2E, WorkerKilledMidJobCompletesOnAnother) {
  ServiceOptions o;
  o.in_process_workers = 0;
  ServiceHarness h(o);
  h.Start();
  auto files = h.MakeFiles("job", 120, 3000, 6);
  Child& w1 = h.StartWorker("doomed");
  const std::int64_t id = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/job"}}});
  h.WaitUntil(id, [](const Json& j) { return j.value("items_done", 0) >= 1; });
  w1.Kill(SIGKILL);
  h.StartWorker("rescuer");
  Json r = h.WaitJob(id, 120000, true);
  ASSERT_EQ(r["state"], "done") << r.dump();
  EXPECT_GE(r["attempt"].get<int>(), 2);
  EXPECT_EQ(r["worker"], "rescuer");
  EXPECT_EQ(r["items_done"], 120);
  h.ExpectRestoresBitExact(files, "rescued");
}

TEST(ServiceE2E, BadConfigFailsAtStartNamingTheKey) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/bad.yaml", "store:\n  targets: [" + dir +
                                   "/t]\n  k: 4\n  m: two\nroots: {source: [" + dir + "]}\n");
  std::string out;
  EXPECT_EQ(RunFls({"serve", "--config", dir + "/bad.yaml"}, &out, 20000), 2) << out;
  EXPECT_NE(out.find("bad.yaml:4:6: key 'store.m'"), std::string::npos) << out;
  WriteFile(dir + "/bad2.yaml", "store:\n  targets: [" + dir + "/t]\nroots: {source: [" + dir +
                                    "]}\nservice:\n  hartbeat_ms: 5\n");
  EXPECT_EQ(RunFls({"serve", "--config", dir + "/bad2.yaml"}, &out, 20000), 2) << out;
  EXPECT_NE(out.find("key 'service.hartbeat_ms': unknown key"), std::string::npos) << out;
  EXPECT_NE(RunFls({"serve", "--config", dir + "/missing.yaml"}, &out, 20000), 0);
  EXPECT_NE(out.find("missing.yaml"), std::string::npos) << out;
  fs::remove_all(dir);
}

TEST(ServiceE2E, CurveClientWithoutTheRightKeyIsRefused) {
  std::string server_pub, server_sec, good_pub, good_sec, bad_pub, bad_sec;
  ASSERT_TRUE(GenerateCurveKeyPair(&server_pub, &server_sec).ok());
  ASSERT_TRUE(GenerateCurveKeyPair(&good_pub, &good_sec).ok());
  ASSERT_TRUE(GenerateCurveKeyPair(&bad_pub, &bad_sec).ok());
  ServiceOptions o;
  o.extra_yaml = "security:\n  curve:\n    server_public_key: \"" + server_pub +
                 "\"\n    server_secret_key: \"" + server_sec + "\"\n    authorized_keys: [\"" +
                 good_pub + "\"]\n";
  ServiceHarness h(o);
  CurveClientKeys good{server_pub, good_pub, good_sec};
  h.Start(good);
  Json r;
  {
    ServiceClient c = h.Client(good);
    ASSERT_TRUE(c.Call("PING", Json::object(), 5000, &r).ok());
    EXPECT_EQ(r["pong"], true);
  }
  // A key the service does not know, no key at all, or the wrong server key:
  // the handshake is refused and no request gets through.
  for (const CurveClientKeys& k :
       {CurveClientKeys{server_pub, bad_pub, bad_sec}, CurveClientKeys{},
        CurveClientKeys{server_pub, "", ""}, CurveClientKeys{bad_pub, good_pub, good_sec}}) {
    ServiceClient c = h.Client(k);
    Status s = c.Call("PING", Json::object(), 1000, &r);
    EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  }
  EXPECT_NE(ReadFile(h.dir() + "/serve.log").find("is not authorized"), std::string::npos);
  // Work flows for the authorized client (in-process workers need no key).
  WriteFile(h.src() + "/secret-ok", "curve");
  ServiceClient c = h.Client(good);
  ASSERT_TRUE(
      c.Call("SUBMIT", {{"kind", "archive"}, {"paths", {h.src() + "/secret-ok"}}}, 5000, &r).ok());
  const std::int64_t id = r["job_id"];
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE(c.Call("STATUS", {{"job_id", id}}, 5000, &r).ok());
    if (r["state"] == "done") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(r["state"], "done") << r.dump();
  // A remote worker with an authorized key joins; one without is refused.
  const std::string keyfile = h.dir() + "/worker.key";
  WriteFile(keyfile, "public_key: \"" + good_pub + "\"\nsecret_key: \"" + good_sec + "\"\n");
  h.StartWorker("keyed", {"--server-key", server_pub, "--key-file", keyfile});
  h.StartWorker("keyless", {"--server-key", server_pub});
  int workers = 0;
  for (int i = 0; i < 200 && workers < 3; ++i) {
    ASSERT_TRUE(c.Call("STATS", Json::object(), 5000, &r).ok());
    workers = r["workers"];
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(workers, 3);  // 2 in-process + "keyed"
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_TRUE(c.Call("STATS", Json::object(), 5000, &r).ok());
  EXPECT_EQ(r["workers"], 3) << "the worker without an authorized key got in";
}

// A scheduled sweep (config sweep.interval) finds chunks lost behind the
// service's back, rebuilds them, and publishes its progress on the PUB socket.
TEST(ServiceE2E, ScheduledSweepRepairsDamageAndPublishesProgress) {
  ServiceOptions o;
  o.extra_yaml = "sweep:\n  interval: 1s\n  rate: 100M\n";
  ServiceHarness h(o);
  h.Start();
  zmq::context_t ctx;
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::subscribe, std::string(kEventProtocol));
  sub.connect(h.event_endpoint());
  auto files = h.MakeFiles("big", 3, 300 * 1024, 9);  // above the pack threshold
  for (const auto& [p, b] : files) WriteFile(p, b);
  const std::int64_t id = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/big"}}});
  ASSERT_EQ(h.WaitJob(id, 60000)["state"], "done");
  // Every chunk on target t2 disappears.
  int removed = 0;
  for (const auto& e : fs::directory_iterator(h.targets()[2]))
    if (e.path().extension() == ".chunk") removed += fs::remove(e.path());
  ASSERT_GT(removed, 0);
  // Bounded wait for a scheduled sweep that rebuilt something and ended.
  std::int64_t sweep_job = 0;
  bool progress_seen = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  Json done_job;
  while (std::chrono::steady_clock::now() < deadline && done_job.is_null()) {
    std::vector<std::string> ev;
    zmq::pollitem_t item = {static_cast<void*>(sub), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(200));
    while (RecvFrames(sub, &ev) && ev.size() == 3) {
      const Json body = Json::parse(ev[2]);
      if (body.value("scheduled", false)) sweep_job = body["job_id"];
      if (body["job_id"] == sweep_job && body.contains("items_done")) progress_seen = true;
    }
    if (sweep_job == 0) continue;
    Json r = h.Call("STATUS", {{"job_id", sweep_job}, {"files", true}});
    if (r.value("state", "") != "done") continue;
    int rebuilt = 0;
    for (const auto& it : r["items"]) rebuilt += it["result"].value("rebuilt", false);
    if (rebuilt > 0)
      done_job = r;
    else
      sweep_job = 0;  // an earlier sweep that ran before the damage; wait for the next
  }
  ASSERT_FALSE(done_job.is_null()) << "no scheduled sweep repaired the damage within 60 s";
  EXPECT_TRUE(progress_seen) << "no progress event for sweep job " << sweep_job;
  EXPECT_EQ(done_job["items_failed"], 0) << done_job.dump();
  EXPECT_TRUE(fs::exists(h.dir() + "/journal.sqlite.health")) << "no health database";
  // Everything is healthy again and restores bit-exact.
  const std::int64_t v = h.Submit({{"kind", "verify"}});
  Json vr = h.WaitJob(v, 60000, true);
  EXPECT_EQ(vr["state"], "done") << vr.dump();
  h.ExpectRestoresBitExact(files, "after-sweep");
}

// A job of many quick items (a re-archive: every file found archived
// already) reports them in few PROGRESS messages: the worker sends what came
// in at most every 50 ms, not a message (and a journal transaction) per item.
// Every item still ends journalled.
TEST(ServiceE2E, ManyQuickItemsShareProgressMessages) {
  ServiceHarness h;
  h.Start();
  const int kFiles = 200;
  auto files = h.MakeFiles("quick", kFiles, 2000, 31);
  for (const auto& [p, b] : files) WriteFile(p, b);
  ASSERT_EQ(h.WaitJob(h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/quick"}}}))["state"],
            "done");
  zmq::context_t ctx;
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::subscribe, std::string(kEventProtocol));
  sub.connect(h.event_endpoint());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the slow joiner
  const std::int64_t id = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/quick"}}});
  Json r = h.WaitJob(id, 60000, true);
  ASSERT_EQ(r["state"], "done") << r.dump();
  ASSERT_EQ(r["items_done"], kFiles);
  for (const auto& item : r["items"])
    EXPECT_TRUE(item["result"].value("unchanged", false)) << item.dump();
  // PROGRESS events of this job: published once per PROGRESS message.
  int progress = 0;
  bool ended = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!ended && std::chrono::steady_clock::now() < deadline) {
    zmq::pollitem_t item = {static_cast<void*>(sub), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(200));
    std::vector<std::string> ev;
    while (RecvFrames(sub, &ev) && ev.size() == 3) {
      const Json body = Json::parse(ev[2]);
      if (body.value("job_id", std::int64_t{0}) != id) continue;
      if (body.value("state", "") == "running" && body.contains("items_done")) ++progress;
      if (body.value("state", "") == "done") ended = true;
    }
  }
  ASSERT_TRUE(ended) << "no end event for job " << id;
  // One message per 50 ms of the job, and the last one, at most (with room
  // for a slow machine's scheduling); one per item would be 200.
  const double seconds = r.value("seconds", 0.0);
  EXPECT_GE(progress, 1);
  EXPECT_LE(progress, 3 + static_cast<int>(seconds / 0.05))
      << "the job took " << seconds << " s for " << kFiles << " items";
}

}  // namespace
}  // namespace fls::service::testing
