// ConfinedIo: how a worker opens what a job names. Every path is opened
// below the descriptor of the root it lies under (the roots come with the
// job's REQUEST, docs/PROTOCOL.md §4) through fls/env.h Directory, so no
// symbolic link is followed, no ".." honoured, and whatever a local user
// renames or plants under a root while the job runs, nothing outside the
// roots is read or written: sources are read through a descriptor opened
// below the root, outputs are written as a temporary created in the output
// directory's descriptor and renamed there.
//
// Also the worker's scratch directory (packs being built, range restores),
// private (0700) and removed with everything in it when done.
//
// Thread-safety: RootDirs may be used from several threads at once (one
// mutex guards its cache); the Directory objects it hands out are
// thread-safe. ScratchDir: as its Directory; create and destroy on one
// thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fls/env.h"
#include "fls/status.h"

namespace fls::service {

// Ok for a regular file with a single link; otherwise InvalidArgument naming
// `path` and what it is. A second hard link inside a root can make a file
// from outside the roots (same filesystem) readable through a name inside
// them, and no lookup can tell, so such files are refused.
Status CheckSourceFile(const std::string& path, const FileInfo& info);

// The roots of one kind (source or output) of a job.
class RootDirs {
 public:
  RootDirs(Env* env, std::vector<std::string> roots, std::string kind);

  // Opens (and keeps) the root `path` lies under; `rel` gets the rest.
  // InvalidArgument when `path` lies under none of them.
  Status Locate(const std::string& path, Directory** root, std::string* rel);
  // A source file for reading: a regular file with one link, reached from
  // its root with no symbolic link; `info` from the open descriptor.
  Status OpenSource(const std::string& path, std::unique_ptr<RandomAccessFile>* file,
                    FileInfo* info);
  // The same checks without opening (lstat below the root).
  Status StatSource(const std::string& path, FileInfo* info);
  // The directory `path` below its root, made (0755, each component inside
  // the one before) when `create`.
  Status OpenDirectory(const std::string& path, bool create, std::unique_ptr<Directory>* dir);

 private:
  Env* env_;
  std::vector<std::string> roots_;
  std::string kind_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Directory>> open_;  // by root path
};

// A private temporary directory under $TMPDIR (mkdtemp: 0700, made
// exclusively), held open; removed with its files on destruction.
class ScratchDir {
 public:
  static Status Create(Env* env, std::unique_ptr<ScratchDir>* scratch);
  ~ScratchDir();
  Directory* dir() const { return dir_.get(); }

 private:
  ScratchDir() = default;
  Env* env_ = nullptr;
  std::string path_;
  std::unique_ptr<Directory> dir_;
};

// InvalidArgument when `name` exists in `dir` and is not a regular file
// (restores replace regular files only, never follow or replace a link).
Status CheckReplaceable(Directory* dir, const std::string& name);

// Writes bytes [at, at + length) of `in` as `name` in `dir`: a temporary
// created there, SHA-256 checked against `sha256`, mode and mtime set on the
// open file, fsynced, renamed over `name`, the directory fsynced. On failure
// the temporary is removed and `name` is left as it was. `what` names the
// bytes in messages.
struct RangeCopy {
  std::uint64_t at = 0, length = 0;
  std::string sha256;
  std::uint32_t mode = 0644;
  std::int64_t mtime_ns = 0;
  std::string what;
};
Status WriteRangeDurably(const RandomAccessFile& in, const RangeCopy& range, Directory* dir,
                         const std::string& name);

}  // namespace fls::service
