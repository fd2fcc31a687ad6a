// RunMountBench (mount_bench.h).
#include "mount_bench.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

#include "fls/env.h"
#include "fls/sha256.h"
#include "fls/store.h"
#include "fls_process.h"

namespace fls::bench {
namespace {

namespace fs = std::filesystem;
constexpr int kTargets = 14;
constexpr long kFuseSuperMagic = 0x65735546;

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// `size` seeded random bytes to `path`; their SHA-256 to `sha`.
Status WriteSource(const std::string& path, std::uint64_t size, std::string* sha) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return Status::IOError("cannot create " + path);
  std::mt19937_64 rng(17);
  std::vector<std::uint64_t> buf(1 << 17);  // 1 MiB
  Sha256 h;
  for (std::uint64_t done = 0; done < size;) {
    for (auto& w : buf) w = rng();
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(size - done, 1 << 20));
    h.Update(reinterpret_cast<const std::uint8_t*>(buf.data()), n);
    f.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(n));
    done += n;
  }
  f.close();
  if (!f) return Status::IOError("cannot write " + path);
  *sha = h.FinishHex();
  return Status::Ok();
}

// Reads `path` sequentially in 1 MiB read(2)s, hashing what it gets.
Status ReadAndHash(const std::string& path, std::uint64_t* bytes, std::string* sha) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  std::vector<std::uint8_t> buf(1 << 20);
  Sha256 h;
  *bytes = 0;
  Status s;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      s = Status::IOError("read of " + path + " at " + std::to_string(*bytes) +
                          " failed: " + std::strerror(errno));
      break;
    }
    if (n == 0) break;
    h.Update(buf.data(), static_cast<std::size_t>(n));
    *bytes += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  *sha = h.FinishHex();
  return s;
}

// `fls mount --foreground` in a child, stopped with SIGTERM.
class MountChild {
 public:
  MountChild(const FlsRunner& fls, std::string mnt) : fls_(fls), mnt_(std::move(mnt)) {}
  ~MountChild() { Stop().ok(); }
  Status Start(std::vector<std::string> args, const std::string& log) {
    FLS_RETURN_IF_ERROR(fls_.Spawn(args, log, &pid_));
    for (int i = 0; i < 300; ++i) {  // 30 s
      struct statfs sf {};
      if (::statfs(mnt_.c_str(), &sf) == 0 && sf.f_type == kFuseSuperMagic) return Status::Ok();
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return Status::Unavailable("fls mount exited before mounting: " + ReadHead(log));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return Status::Unavailable("fls mount did not mount " + mnt_ +
                               " within 30 s: " + ReadHead(log));
  }
  Status Stop() {
    if (pid_ <= 0) return Status::Ok();
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return Status::IOError("fls mount did not exit cleanly after SIGTERM");
    return Status::Ok();
  }

 private:
  const FlsRunner& fls_;
  std::string mnt_;
  pid_t pid_ = -1;
};

}  // namespace

std::string CpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown";
}

Status RunMountBench(const MountBenchOptions& o,
                     const std::function<void(const MountRow&)>& on_row) {
  BenchWorkDir work;
  FLS_RETURN_IF_ERROR(work.Create(o.dir.empty() ? "." : o.dir, "fls-bench-mount", o.keep));
  FlsRunner fls(o.fls.empty() ? SelfExecutable() : o.fls, work.logs(), o.timeout_s);
  std::vector<std::string> targets, target_args;
  for (int i = 0; i < kTargets; ++i) {
    targets.push_back(work.path() + "/t" + std::to_string(i));
    fs::create_directories(targets.back());
    target_args.insert(target_args.end(), {"--target", targets.back()});
  }
  const std::string src = work.path() + "/big.bin", mnt = work.path() + "/mnt";
  fs::create_directories(mnt);
  std::string sha;
  FLS_RETURN_IF_ERROR(WriteSource(src, o.size, &sha));
  CommandResult r;
  auto with_targets = [&](std::vector<std::string> args) {
    args.insert(args.begin() + 1, target_args.begin(), target_args.end());
    return args;
  };
  FLS_RETURN_IF_ERROR(
      fls.Run(with_targets({"archive", "-q", src, "--name", "big.bin"}), "archive", &r));
  fs::remove(src);  // room, and no page-cache copy of the source to help either side
  for (const char* state : {"healthy", "4 chunks lost"}) {
    if (std::string(state) != "healthy") {
      std::unique_ptr<Store> store;
      FLS_RETURN_IF_ERROR(Store::FromTargetSpecs(Env::Default(), targets, &store));
      CatalogEntry e;
      FLS_RETURN_IF_ERROR(store->FindObject("big.bin", &e));
      for (int i = 0; i < 4; ++i) fs::remove(e.manifest.chunks[i].path());
    }
    MountRow row;
    row.state = state;
    row.bytes = o.size;
    row.load_average = LoadAverage();
    const std::string out = work.path() + "/restored.bin";
    FLS_RETURN_IF_ERROR(
        fls.Run(with_targets({"restore", "-q", "big.bin", "-o", out}), "restore", &r));
    row.restore_seconds = r.seconds;
    fs::remove(out);
    MountChild child(fls, mnt);
    FLS_RETURN_IF_ERROR(
        child.Start(with_targets({"mount", mnt, "--foreground", "--cache", o.cache}),
                    work.logs() + "/mount.log"));
    std::uint64_t got = 0;
    std::string got_sha;
    const auto t0 = std::chrono::steady_clock::now();
    Status rs = ReadAndHash(mnt + "/big.bin", &got, &got_sha);
    row.mount_seconds = Since(t0);
    FLS_RETURN_IF_ERROR(child.Stop());
    FLS_RETURN_IF_ERROR(rs);
    row.mount_equal = got == o.size && got_sha == sha;
    if (!row.mount_equal)
      return Status::Corruption("bench mount: the bytes read through the mount (" +
                                std::to_string(got) + ", SHA-256 " + got_sha +
                                ") are not the file's (" + sha + ")");
    row.restore_gbps = o.size / row.restore_seconds / 1e9;
    row.mount_gbps = o.size / row.mount_seconds / 1e9;
    row.ratio = row.mount_gbps / row.restore_gbps;
    row.pass = row.ratio >= row.floor;
    on_row(row);
  }
  return Status::Ok();
}

}  // namespace fls::bench
