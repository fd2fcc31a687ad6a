// End-to-end: a STATUS with `wait_ms` (PROTOCOL.md, STATUS) is held by the
// broker until its job ends or the wait is over, whichever is first: ended
// by a worker, by CANCEL, answered with the state at the deadline, answered
// when the service stops, and never answered late for a client that left.
// Jobs are kept queued by a service without in-process workers; a worker
// process started by the test runs them.
#include <atomic>
#include <thread>

#include <zmq.hpp>

#include "fls/service/protocol.h"
#include "fls/service/zmq_util.h"
#include "service_harness.h"

namespace fls::service::testing {
namespace {

using Clock = std::chrono::steady_clock;

ServiceOptions NoInProcessWorkers() {
  ServiceOptions o;
  o.in_process_workers = 0;  // jobs stay queued until a worker process joins
  return o;
}

// A held STATUS on its own thread and client; `done` is set once the reply
// (or the failure to get one) is in.
struct HeldStatus {
  Json reply;
  Status status;
  double seconds = 0;
  std::atomic<bool> done{false};
  std::thread thread;

  HeldStatus(ServiceHarness& h, std::int64_t id, int wait_ms) {
    thread = std::thread([this, endpoint = h.client_endpoint(), id, wait_ms] {
      ServiceClient c(endpoint);
      const auto t0 = Clock::now();
      status = c.Call("STATUS", {{"job_id", id}, {"wait_ms", wait_ms}}, wait_ms + 20000, &reply);
      seconds = std::chrono::duration<double>(Clock::now() - t0).count();
      done = true;
    });
  }
  ~HeldStatus() {
    if (thread.joinable()) thread.join();
  }
  void Join() { thread.join(); }
};

std::int64_t SubmitSmallArchive(ServiceHarness& h, const std::string& name) {
  WriteFile(h.src() + "/" + name, "bytes of " + name);
  return h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/" + name}}});
}

TEST(ServiceStatusWait, HeldUntilAWorkerEndsTheJob) {
  ServiceHarness h(NoInProcessWorkers());
  h.Start();
  const std::int64_t id = SubmitSmallArchive(h, "a");
  ASSERT_GT(id, 0);
  // Three clients wait on the same job; none is answered while it is queued.
  std::vector<std::unique_ptr<HeldStatus>> held;
  for (int i = 0; i < 3; ++i) held.push_back(std::make_unique<HeldStatus>(h, id, 30000));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  for (const auto& w : held) EXPECT_FALSE(w->done) << "answered while the job was queued";
  h.StartWorker("w1");
  for (auto& w : held) {
    w->Join();
    ASSERT_TRUE(w->status.ok()) << w->status.ToString();
    EXPECT_EQ(w->reply["state"], "done") << w->reply.dump();
    EXPECT_EQ(w->reply["items_done"], 1);
    // Answered by the job's end, not by the 30 s deadline.
    EXPECT_LT(w->seconds, 25.0);
  }
  // A wait on a job that has ended is answered at once, as without one.
  ServiceClient c = h.Client();
  Json r;
  ASSERT_TRUE(c.Call("STATUS", {{"job_id", id}, {"wait_ms", 30000}}, 10000, &r).ok());
  EXPECT_EQ(r["state"], "done");
}

TEST(ServiceStatusWait, AnsweredAtTheDeadlineWithTheStateThen) {
  ServiceHarness h(NoInProcessWorkers());
  h.Start();
  const std::int64_t id = SubmitSmallArchive(h, "b");
  HeldStatus w(h, id, 400);
  w.Join();
  ASSERT_TRUE(w.status.ok()) << w.status.ToString();
  EXPECT_EQ(w.reply["state"], "queued") << w.reply.dump();
  EXPECT_GE(w.seconds, 0.4);
  // Unknown job: not_found at once, waiting or not; a bad wait: bad_request.
  ServiceClient c = h.Client();
  Json err;
  EXPECT_EQ(c.Call("STATUS", {{"job_id", id + 100}, {"wait_ms", 30000}}, 10000, &err).code(),
            Status::Code::kNotFound);
  EXPECT_FALSE(c.Call("STATUS", {{"job_id", id}, {"wait_ms", 30001}}, 10000, &err).ok());
  EXPECT_EQ(err["code"], errc::kBadRequest);
  EXPECT_NE(err.value("message", "").find("wait_ms"), std::string::npos) << err.dump();
}

TEST(ServiceStatusWait, CancelEndsTheWait) {
  ServiceHarness h(NoInProcessWorkers());
  h.Start();
  const std::int64_t id = SubmitSmallArchive(h, "c");
  HeldStatus w(h, id, 30000);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(h.Call("CANCEL", {{"job_id", id}})["state"], "cancelled");
  w.Join();
  ASSERT_TRUE(w.status.ok()) << w.status.ToString();
  EXPECT_EQ(w.reply["state"], "cancelled") << w.reply.dump();
  EXPECT_LT(w.seconds, 25.0);
}

// A client that sends a waiting STATUS and leaves: the reply at the deadline
// finds no peer; the service logs it at debug level and goes on.
TEST(ServiceStatusWait, AClientThatLeftIsNoProblem) {
  ServiceHarness h(NoInProcessWorkers());
  h.Start();
  const std::int64_t id = SubmitSmallArchive(h, "d");
  {
    zmq::context_t ctx;
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    s.connect(h.client_endpoint());
    const std::string body = Json{{"job_id", id}, {"wait_ms", 300}}.dump();
    ASSERT_TRUE(SendFrames(s, {"", std::string(kClientProtocol), "STATUS", body}));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(h.Call("PING", Json::object())["pong"], true);
  EXPECT_EQ(h.Call("STATUS", {{"job_id", id}})["state"], "queued");
  EXPECT_TRUE(h.service().Running());
}

// SIGTERM: the broker answers every held STATUS before it goes, so that a
// waiting client hears the state instead of waiting out its timeout.
TEST(ServiceStatusWait, StoppingAnswersEveryHeldStatus) {
  ServiceHarness h(NoInProcessWorkers());
  h.Start();
  const std::int64_t id = SubmitSmallArchive(h, "e");
  HeldStatus w(h, id, 30000);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  h.service().Kill(SIGTERM);
  w.Join();
  ASSERT_TRUE(w.status.ok()) << w.status.ToString();
  EXPECT_EQ(w.reply["state"], "queued") << w.reply.dump();
  EXPECT_LT(w.seconds, 25.0);
  EXPECT_EQ(h.service().Wait(20000), 0);
}

// The CLI waits through held STATUS: `fls job ID --wait` returns the ended job.
TEST(ServiceStatusWait, CliJobWaitSeesTheEnd) {
  ServiceHarness h(NoInProcessWorkers());
  h.Start();
  const std::int64_t id = SubmitSmallArchive(h, "f");
  std::string out;
  int rc = -1;
  std::thread cli([&] {
    rc = RunFls({"job", std::to_string(id), "--config", h.config(), "--wait", "--json"}, &out);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  h.StartWorker("w1");
  cli.join();
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"state\":\"done\""), std::string::npos) << out;
}

}  // namespace
}  // namespace fls::service::testing
