// FaultInjectionEnv: an EnvWrapper for tests that makes chosen calls fail and
// can simulate a crash.
//
// Faults: a FaultRule names an operation (write, fsync, rename, create), a
// path substring, how many matching calls succeed first, and the errno to fail
// with (EIO, ENOSPC, ...). A write rule may be a short write: half the bytes
// reach the file, then the call fails.
//
// Crash: DropUnsyncedData() puts the underlying files back into the state a
// power cut would leave: every file written through this Env is truncated to
// the size it had at its last successful Sync, and files created or renamed
// in a directory that was not fsynced afterwards revert (the rename is undone,
// the creation removed; a file that a rename replaced comes back, as a
// journalled rename is all or nothing). Removals are treated as immediately
// durable. A link counts as a creation (FaultOp::kCreate).
// Together with SetCrashPoint this lets a test stop the code under test at
// any step and then look at what a reboot would find.
//
// Directories opened through this Env (OpenDirectory) are wrapped too: their
// creations, writes, fsyncs, renames, removals and directory fsyncs are
// matched, failed and tracked under "<directory path>/<name>" exactly like
// the path-based calls, so the service's confined write path (a temporary
// created in an output directory's descriptor, renamed there) sees the same
// faults.
//
// Thread-safety: all methods may be called concurrently (one mutex).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fls/env.h"

namespace fls {

enum class FaultOp { kWrite, kSync, kRename, kCreate, kRemove, kSyncDir };

struct FaultRule {
  FaultOp op = FaultOp::kWrite;
  std::string path_contains;  // matches every path when empty
  int succeed_first = 0;      // matching calls that still succeed
  int fail_times = -1;        // then this many fail (-1: all later ones)
  int error = 5;              // errno to report (EIO = 5, ENOSPC = 28)
  bool short_write = false;   // kWrite: half of the bytes are written first
};

class FaultInjectionEnv : public EnvWrapper {
 public:
  explicit FaultInjectionEnv(Env* base);
  ~FaultInjectionEnv() override;

  void AddRule(const FaultRule& rule);
  void ClearRules();
  int faults_injected() const;

  // After `ops` more mutating calls (create, write, fsync, rename, remove,
  // directory fsync) every mutating call fails with EIO, as if the machine had
  // stopped there: the code under test cannot clean up either. -1 disables.
  void SetCrashPoint(int ops);
  int mutating_calls() const;

  // Simulates a crash (see above). IOError when the underlying files cannot
  // be put back. Tracking restarts empty afterwards.
  Status DropUnsyncedData();

  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* file) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status SyncDir(const std::string& dir) override;
  Status RemoveFile(const std::string& path) override;
  Status OpenDirectory(const std::string& path, std::unique_ptr<Directory>* dir) override;
  Status LinkFile(const std::string& from, const std::string& to) override;

  // Used by the files and directories this Env hands out.
  Status MaybeFail(FaultOp op, const std::string& path, bool* short_write);
  void OnAppend(const std::string& path, std::uint64_t n);
  void OnSync(const std::string& path);
  void OnCreate(const std::string& path);
  // `replaced`: `to` existed, holding `old_bytes` (put back by a crash).
  void OnRename(const std::string& from, const std::string& to, bool replaced,
                std::string old_bytes);
  void OnRemove(const std::string& path);
  void OnSyncDir(const std::string& dir);

 private:
  struct Rule {
    FaultRule rule;
    int seen = 0;
    int failed = 0;
  };
  struct FileState {
    std::uint64_t size = 0;
    std::uint64_t synced = 0;
  };
  struct DirEvent {
    bool rename = false;
    std::string from, to;   // create: `to` only
    bool replaced = false;  // rename: `to` existed; its bytes were `old_bytes`
    std::string old_bytes;
  };
  mutable std::mutex mu_;
  std::vector<Rule> rules_;
  int injected_ = 0;
  int crash_point_ = -1;
  int mutating_ = 0;
  std::map<std::string, FileState> files_;
  std::map<std::string, std::vector<DirEvent>> pending_;  // dir -> events since its fsync
};

}  // namespace fls
