// Helpers for the archive tests: temporary directories, stores of local
// target directories, sample files and byte-level damage.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fls/archive.h"
#include "fls/env.h"
#include "fls/manifest.h"
#include "fls/store.h"
#include "host/archive/manifest_commit.h"

extern char** environ;

namespace fls::testing {

namespace fs = std::filesystem;

class TempDir {
 public:
  // Under `base` (default: the system's temporary directory).
  explicit TempDir(const std::string& base = fs::temp_directory_path().string()) {
    std::string tmpl = (fs::path(base) / "fls-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string RandomBytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(rng() >> 56);
  return s;
}

inline void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Flips one byte of `path` at `offset`.
inline void FlipByte(const std::string& path, std::uint64_t offset) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

// Files in `dir` whose names satisfy `pred`.
inline std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

// A store of `n` target directories t0..t(n-1) under `root`, domain = name.
inline std::unique_ptr<Store> MakeStore(const std::string& root, int n, Env* env = Env::Default(),
                                        int domains = 0) {
  std::vector<Target> targets;
  for (int i = 0; i < n; ++i) {
    const std::string p = root + "/t" + std::to_string(i);
    fs::create_directories(p);
    targets.push_back({p, domains ? "d" + std::to_string(i % domains) : ""});
  }
  std::unique_ptr<Store> store;
  EXPECT_TRUE(Store::FromTargets(env, targets, &store).ok());
  return store;
}

// Every file under the targets (recursively), for "nothing left behind"
// checks; the targets' identities (fls-target.json, written when a target
// joins the store, before any object) and the empty marker of `fls
// archive`'s last temporaries scan (.fls-temp-scan) are not counted.
inline std::vector<std::string> AllFiles(const std::string& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && e.path().filename() != "fls-target.json" &&
        e.path().filename() != ".fls-temp-scan")
      out.push_back(e.path().string());
  return out;
}

// What fls before the name-addressed catalogue left on disk for object
// `name` (chunk format 2): its manifest as path-addressed version 2 copies
// (target paths, one file per generation) on the chunk targets and no
// version 3 copy. (DropIdentities then removes the targets' identities, as
// such stores had none.) Version 1 proper (chunk format 1) is the committed
// fixture tests/data/v1-store (v1_fixture_test).
inline void MakePathAddressed(const Store& store, const std::string& name) {
  CatalogEntry e;
  ASSERT_TRUE(store.FindObject(name, &e).ok()) << name;
  Manifest m = e.manifest;
  m.format_version = kManifestFormatVersion2;
  for (ManifestChunk& c : m.chunks) c.target_id.clear();
  internal::ChooseManifestTargets(store, &m);
  std::vector<std::string> written;
  ASSERT_TRUE(internal::CommitManifest(store.env(), m, &written).ok());
  for (const std::string& p : e.copies) fs::remove(p);
}

inline void DropIdentities(const std::vector<Target>& targets) {
  for (const Target& t : targets) fs::remove(t.path + "/fls-target.json");
}

// The exit code and the merged stdout/stderr of a shell command.
struct CmdResult {
  int rc = -1;
  std::string out;
};

// Starts `args` (args[0]: the program) with stdout and stderr on /dev/null;
// returns its pid (-1 when it could not start).
inline pid_t SpawnQuiet(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

inline CmdResult Shell(const std::string& cmd) {
  CmdResult r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs `binary args...` (output to /dev/null) and SIGKILLs it after
// `kill_after` unless it exits first. Returns true when it exited 0 on its own
// (acknowledged); `killed` says whether the kill landed.
inline bool RunAndMaybeKill(const std::string& binary, const std::vector<std::string>& args,
                            std::chrono::microseconds kill_after, bool* killed) {
  std::vector<std::string> argv_s = {binary};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  const pid_t pid = SpawnQuiet(argv_s);
  EXPECT_GT(pid, 0) << "could not start " << binary;
  if (pid <= 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + kill_after;
  int status = 0;
  *killed = false;
  while (true) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      *killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace fls::testing
