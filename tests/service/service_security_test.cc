// Security pass of the service (issue 6, docs/SECURITY.md): path confinement
// beyond `..` and symlinks (hard links, control characters), and a real
// service on loopback that many clients connect to and vanish from while it
// keeps answering.
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>

#include "fls/service/protocol.h"
#include "fls/service/zmq_util.h"
#include "service/path_policy.h"
#include "service_harness.h"

namespace fls::service::testing {
namespace {

TEST(PathPolicySecurity, HardLinksAndControlCharactersAreRefused) {
  const std::string t = MakeTempDir();
  fs::create_directories(t + "/src/d");
  fs::create_directories(t + "/secret");
  WriteFile(t + "/secret/key", "k");
  WriteFile(t + "/src/d/plain", "p");
  // A hard link inside the root to a file outside it: realpath stays inside.
  ASSERT_EQ(::link((t + "/secret/key").c_str(), (t + "/src/d/hard").c_str()), 0);
  PathPolicy p;
  ASSERT_TRUE(PathPolicy::Create({t + "/src"}, {t + "/out"}, &p).ok());
  std::string r;
  Status s = p.ResolveSource(t + "/src/d/hard", &r);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("hard links"), std::string::npos) << s.ToString();
  std::vector<std::string> files;
  s = p.ExpandSource(t + "/src/d", 100, &files);
  EXPECT_NE(s.message().find("hard links"), std::string::npos) << s.ToString();
  fs::remove(t + "/src/d/hard");
  files.clear();
  ASSERT_TRUE(p.ExpandSource(t + "/src/d", 100, &files).ok());
  EXPECT_EQ(files, std::vector<std::string>{t + "/src/d/plain"});

  // Control characters: in a client's path, in a restore output, and in a
  // file name found while expanding a directory.
  for (const std::string bad :
       {std::string("/src/a\nINFO forged log line"), std::string("/src/\x1b[2Jx"),
        std::string("/src/tab\there"), std::string("/src/del\x7f")}) {
    s = p.ResolveSource(t + bad, &r);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("control character"), std::string::npos) << s.ToString();
    s = p.ResolveOutput(t + "/out" + bad, &r);
    EXPECT_NE(s.message().find("control character"), std::string::npos) << s.ToString();
  }
  WriteFile(t + "/src/d/evil\nname", "e");
  files.clear();
  s = p.ExpandSource(t + "/src/d", 100, &files);
  EXPECT_NE(s.message().find("control character 0x0a"), std::string::npos) << s.ToString();
  // Names that are merely unusual are fine.
  fs::remove(t + "/src/d/evil\nname");
  WriteFile(t + "/src/d/sp ace-ünïcode", "u");
  files.clear();
  EXPECT_TRUE(p.ExpandSource(t + "/src/d", 100, &files).ok());
  EXPECT_EQ(files.size(), 2u);
  fs::remove_all(t);
}

TEST(ServiceSecurity, ManyClientsConnectAndVanishServiceKeepsAnswering) {
  ServiceHarness h;  // loopback, max_message_bytes 64K
  h.Start();
  const std::string P(kClientProtocol);
  std::mt19937 rng(6);
  constexpr int kClients = 300;
  int sent = 0;
  zmq::context_t ctx(1);
  for (int round = 0; round < 3; ++round) {
    std::vector<zmq::socket_t> sockets;
    for (int i = 0; i < kClients / 3; ++i) {
      sockets.emplace_back(ctx, zmq::socket_type::dealer);
      zmq::socket_t& s = sockets.back();
      s.set(zmq::sockopt::linger, 0);
      s.connect(h.client_endpoint());
      // Some say nothing, some send a request and never read the reply, some
      // send garbage or an oversized frame; then all vanish.
      switch (rng() % 4) {
        case 0:
          break;
        case 1:
          sent += SendFrames(s, {"", P, "PING", "{}"});
          break;
        case 2:
          sent += SendFrames(s, {"", P, "LIST", "{\"limit\": 5}"});
          break;
        default:
          sent += SendFrames(s, {std::string(1, static_cast<char>(rng())),
                                 std::string(70000 + rng() % 1000, 'x')});
      }
    }
    sockets.clear();  // linger 0: gone at once
    // The service still answers a well-behaved client, promptly.
    ServiceClient c = h.Client();
    Json r;
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(c.Call("PING", Json::object(), 5000, &r).ok()) << "round " << round;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
    EXPECT_TRUE(h.service().Running());
  }
  // Work still flows after the churn.
  WriteFile(h.src() + "/after-churn", "still here");
  const std::int64_t id = h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/after-churn"}}});
  EXPECT_EQ(h.WaitJob(id)["state"], "done");
  std::printf("security: %d clients connected and vanished (%d sent a message first)\n", kClients,
              sent);
}

TEST(ServiceSecurity, SubmitOverItemLimitAndControlCharactersAreRefusedOnTheWire) {
  ServiceHarness h;  // max_files_per_job 5000
  h.Start();
  ServiceClient c = h.Client();
  Json r;
  std::vector<std::string> many(5001, "/x");  // small enough for 64K
  Status s = c.Call("SUBMIT", {{"kind", "archive"}, {"paths", many}}, 5000, &r);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find(errc::kTooLarge), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("the limit is 5000"), std::string::npos) << s.ToString();
  WriteFile(h.src() + "/ok", "ok");
  s = c.Call("SUBMIT", {{"kind", "archive"}, {"paths", {h.src() + "/ok\r\nX"}}}, 5000, &r);
  EXPECT_NE(s.ToString().find(errc::kPathRejected), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("control character"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace fls::service::testing
