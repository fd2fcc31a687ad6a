// The service config's `mount:` key: a real `fls serve` on loopback mounts
// the read-only view of its store (through /dev/fuse) at start-up; files
// archived through the service read back through it, and the mount is gone
// once the service stops (SIGTERM), or fails on its own after mounting (a
// port already taken). A mount point that is missing or not a
// directory fails the start, naming the key and the path. The tests that
// mount skip, with the reason, where no FUSE mount can be made.
#include <sys/vfs.h>

#include <cerrno>
#include <cstring>

#include "tests/service/service_harness.h"

namespace fls::service::testing {
namespace {

bool IsFuseMount(const std::string& path) {
  struct statfs sf {};
  return ::statfs(path.c_str(), &sf) == 0 && sf.f_type == 0x65735546;  // FUSE_SUPER_MAGIC
}

TEST(ServiceMount, ExportsTheStoreAndUnmountsWhenTheServiceStops) {
  if (::access("/dev/fuse", R_OK | W_OK) != 0)
    GTEST_SKIP() << "/dev/fuse is not usable here: " << std::strerror(errno);
  const std::string view = MakeTempDir();
  ServiceOptions o;
  o.extra_yaml = "mount:\n  path: " + view + "\n  cache: 4M\n  relist: 1s\n";
  ServiceHarness h(o);
  h.Start();
  if (!IsFuseMount(view)) {
    const std::string log = h.log();
    if (log.find("cannot be mounted") != std::string::npos)
      GTEST_SKIP() << "FUSE mount not possible here: " << log.substr(0, 2000);
    FAIL() << "the service answers but " << view << " is not mounted:\n" << log;
  }
  std::map<std::string, std::string> files;
  files[h.src() + "/big.bin"] = RandomString(3 * 256 * 1024 + 17, 5);  // an object of its own
  files[h.src() + "/dir/small.txt"] = RandomString(3000, 6);           // packed
  for (const auto& [p, b] : files) WriteFile(p, b);
  const std::int64_t id =
      h.Submit({{"kind", "archive"}, {"paths", {h.src() + "/big.bin", h.src() + "/dir"}}});
  ASSERT_GT(id, 0);
  ASSERT_EQ(h.WaitJob(id, 60000)["state"], "done");
  // Names are the files' paths. Their directories are new: shown once a
  // re-list (every second) has run.
  bool listed = false;
  for (int i = 0; i < 100 && !listed; ++i) {
    listed =
        fs::exists(view + h.src() + "/dir/small.txt") && fs::exists(view + h.src() + "/big.bin");
    if (!listed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(listed) << h.log();
  for (const auto& [p, b] : files) {
    const std::string got = ReadFile(view + p);
    EXPECT_TRUE(got == b) << p << ": " << got.size() << " bytes read, " << b.size() << " archived";
  }
  // Read-only.
  EXPECT_LT(::open((view + h.src() + "/new").c_str(), O_WRONLY | O_CREAT, 0644), 0);
  // A reader still holding a file open does not keep the service from ending.
  const int held = ::open((view + h.src() + "/big.bin").c_str(), O_RDONLY);
  ASSERT_GE(held, 0);
  char byte = 0;
  EXPECT_EQ(::read(held, &byte, 1), 1);
  h.service().Kill(SIGTERM);
  EXPECT_EQ(h.service().Wait(20000), 0) << h.log();
  ::close(held);
  EXPECT_FALSE(IsFuseMount(view)) << "still mounted after the service stopped";
  EXPECT_NE(h.log().find("mount: unmounted " + view), std::string::npos) << h.log();
  EXPECT_TRUE(fs::is_empty(view));
  fs::remove_all(view);
}

// The service ending on its own (here: its client port is taken, so the
// broker cannot bind after the mount is up) unmounts too.
TEST(ServiceMount, UnmountedWhenTheServiceFailsAfterMounting) {
  if (::access("/dev/fuse", R_OK | W_OK) != 0)
    GTEST_SKIP() << "/dev/fuse is not usable here: " << std::strerror(errno);
  const std::string view = MakeTempDir();
  ServiceOptions o;
  o.extra_yaml = "mount:\n  path: " + view + "\n";
  ServiceHarness h(o);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(
      std::stoi(h.client_endpoint().substr(h.client_endpoint().rfind(':') + 1))));
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
  ASSERT_EQ(::listen(fd, 1), 0);
  std::string out;
  const int rc = RunFls({"serve", "--config", h.config()}, &out, 30000);
  ::close(fd);
  if (out.find("cannot be mounted") != std::string::npos)
    GTEST_SKIP() << "FUSE mount not possible here: " << out.substr(0, 2000);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("the store is mounted read-only at " + view), std::string::npos) << out;
  EXPECT_NE(out.find("mount: unmounted " + view), std::string::npos) << out;
  EXPECT_FALSE(IsFuseMount(view)) << "still mounted after the service failed";
  fs::remove_all(view);
}

TEST(ServiceMount, BadMountPointFailsTheStartNamingKeyAndPath) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/plain", "x");
  for (const auto& [path, why] : std::vector<std::pair<std::string, std::string>>{
           {dir + "/missing", "No such file or directory"}, {dir + "/plain", "not a directory"}}) {
    ServiceOptions o;
    o.extra_yaml = "mount:\n  path: " + path + "\n";
    ServiceHarness h(o);
    std::string out;
    EXPECT_EQ(RunFls({"serve", "--config", h.config()}, &out, 20000), 2) << out;
    EXPECT_NE(out.find("key 'mount.path': '" + path + "'"), std::string::npos) << out;
    EXPECT_NE(out.find(why), std::string::npos) << out;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace fls::service::testing
