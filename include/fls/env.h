// Env: the filesystem seam, in the manner of LevelDB's Env. Everything the
// archive reads or writes goes through an Env, so tests can swap in a
// FaultInjectionEnv (fls/fault_injection_env.h) that fails writes, fsyncs or
// renames, writes short, or forgets data that was never made durable.
//
//   Env               the interface (PosixEnv via Env::Default())
//   EnvWrapper        forwards every call to another Env; subclass it to
//                     override a few calls
//   WritableFile      append-only file being written (create/truncate)
//   RandomAccessFile  positioned reads of an existing file
//   Directory         a directory held open by descriptor: what the service
//                     opens for a client goes through one, below the root's
//                     descriptor, following no symbolic link (host/beneath.h)
//
// Errors name the path and carry the errno text ("write /t0/x.chunk: No space
// left on device"); ENOSPC maps to Status::NoSpace, ENOENT to NotFound, other
// failures to IOError.
//
// Thread-safety: Env methods may be called concurrently. A WritableFile or
// RandomAccessFile object may be used by one thread at a time (Read is const
// and may be called concurrently).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fls/status.h"

namespace fls {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends all `n` bytes or fails (a short write that cannot be completed is
  // an error naming the path).
  virtual Status Append(const void* data, std::size_t n) = 0;
  // fsync: OK only when every appended byte is durable. A failed Sync leaves
  // the file in an unknown state; callers fail the job, never retry.
  virtual Status Sync() = 0;
  // Closes the descriptor; later calls fail. Destruction closes silently.
  virtual Status Close() = 0;
  virtual const std::string& path() const = 0;
  // chmod + mtime of the open file itself (fchmod, futimens), so no name is
  // resolved again; call after the last Append (a write moves mtime).
  // The default fails: a file that cannot do this says so.
  virtual Status SetModeAndTime(std::uint32_t mode, std::int64_t mtime_ns);
};

class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to `n` bytes at `offset` into `buf`; *read < n only at end of
  // file. IOError naming the path on failure.
  virtual Status Read(std::uint64_t offset, std::size_t n, void* buf, std::size_t* read) const = 0;
  virtual const std::string& path() const = 0;
};

enum class FileType { kRegular, kDirectory, kSymlink, kFifo, kSocket, kCharDevice, kBlockDevice };
// "regular file", "directory", "symbolic link", "FIFO", "socket", ...
const char* FileTypeName(FileType type);

struct FileInfo {
  std::uint64_t size = 0;
  std::uint32_t mode = 0;  // permission bits (st_mode & 07777)
  std::int64_t mtime_ns = 0;
  bool is_directory = false;
  FileType type = FileType::kRegular;
  std::uint64_t links = 1;  // hard links (st_nlink)
  std::uint64_t allocated = 0;  // bytes on the device (st_blocks * 512)
  std::uint64_t device = 0;     // the file system's device (st_dev)
};

// A directory held open by its file descriptor. Every name given to it is
// resolved below that descriptor by host/beneath.h: no symbolic link is
// followed on the way or as the last component, and ".." or an absolute name
// is refused, so whatever is renamed or replaced above or inside it, nothing
// is read or written outside the directory this object was opened on.
//
// `rel` arguments may hold several components ("a/b/c"); `name` arguments
// are one component of this directory. A symbolic link met, or a name that
// would leave, is InvalidArgument naming the path and the reason; missing
// names are NotFound; other failures IOError (NoSpace for ENOSPC).
//
// Thread-safety: methods may be called concurrently; the objects handed out
// follow the WritableFile / RandomAccessFile rules.
class Directory {
 public:
  virtual ~Directory() = default;
  // The path this directory had when opened: for messages only, never
  // resolved again.
  virtual const std::string& path() const = 0;
  // Opens the directory `rel` below this one; `create` makes missing
  // components (0755), each inside the one before.
  virtual Status OpenDirectory(const std::string& rel, bool create,
                               std::unique_ptr<Directory>* dir) = 0;
  // Opens the regular file `rel` for reading; `info` (optional) comes from
  // fstat of the open descriptor, so it describes exactly the file read.
  // Anything but a regular file is InvalidArgument: FIFOs are opened with
  // O_NONBLOCK so they cannot hang the caller, device files are refused
  // before they are opened.
  virtual Status NewRandomAccessFile(const std::string& rel,
                                     std::unique_ptr<RandomAccessFile>* file, FileInfo* info) = 0;
  // Creates `name` exclusively (O_CREAT | O_EXCL | O_NOFOLLOW, 0644): an
  // existing entry of that name, a symbolic link included, is an error.
  virtual Status NewWritableFile(const std::string& name, std::unique_ptr<WritableFile>* file) = 0;
  // lstat of `rel` (the last component is not followed; none on the way is).
  virtual Status GetFileInfo(const std::string& rel, FileInfo* info) = 0;
  // The names in this directory, without "." and "..".
  virtual Status GetChildren(std::vector<std::string>* names) = 0;
  // renameat within this directory: atomically replaces `to` (a symbolic
  // link of that name is replaced, never followed).
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status RemoveFile(const std::string& name) = 0;
  // An empty subdirectory.
  virtual Status RemoveDir(const std::string& name) = 0;
  // fsync of this directory: renames and creations in it become durable.
  virtual Status Sync() = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX Env; never deleted.
  static Env* Default();

  // Creates or truncates `path` for writing.
  virtual Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* file) = 0;
  // Opens an existing file; NotFound when it does not exist.
  virtual Status NewRandomAccessFile(const std::string& path,
                                     std::unique_ptr<RandomAccessFile>* file) = 0;
  // NotFound when `path` does not exist.
  virtual Status GetFileInfo(const std::string& path, FileInfo* info) = 0;
  // The names (not paths) in directory `dir`, without "." and "..".
  virtual Status GetChildren(const std::string& dir, std::vector<std::string>* names) = 0;
  // Calls `fn` with each name in `dir` (no "." or ".."), in no particular
  // order, until it returns false; memory does not grow with the directory.
  // This default lists through GetChildren, so a wrapper that overrides
  // GetChildren is obeyed; PosixEnv streams with readdir.
  virtual Status ForEachChild(const std::string& dir,
                              const std::function<bool(std::string_view name)>& fn);
  // rename(2): atomically replaces `to` when it exists.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // link(2): `to` becomes another name of the file `from`; fails, leaving
  // `to` as it was, when `to` already exists (IOError whose message says
  // "File exists"). The creation is durable after SyncDir of `to`'s directory.
  virtual Status LinkFile(const std::string& from, const std::string& to) = 0;
  // mkdir -p; OK when the directory already exists.
  virtual Status CreateDirs(const std::string& dir) = 0;
  // fsync of the directory itself, making renames and creations in it durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Bytes available to an unprivileged writer on the filesystem holding `path`.
  virtual Status GetFreeSpace(const std::string& path, std::uint64_t* bytes) = 0;
  // chmod + set mtime (restore applies the archived file's metadata).
  virtual Status SetFileModeAndTime(const std::string& path, std::uint32_t mode,
                                    std::int64_t mtime_ns) = 0;
  // Opens the regular file `path` for reading without following a symbolic
  // link as its last component (O_NOFOLLOW; the directories above it are
  // trusted, e.g. a storage target). Anything but a regular file is
  // InvalidArgument naming it; `info` (optional) comes from the open
  // descriptor. Chunk and manifest reads use it, so that a link planted
  // under a chunk's or a manifest's name is refused, never followed.
  virtual Status NewRandomAccessFileNoFollow(const std::string& path,
                                             std::unique_ptr<RandomAccessFile>* file,
                                             FileInfo* info) = 0;
  // Opens the directory `path` as a Directory. The path itself is resolved
  // as usual (symbolic links in it are followed: it is the trusted root,
  // e.g. a configured source root or a storage target); everything asked of
  // the Directory afterwards is resolved below it without following any.
  virtual Status OpenDirectory(const std::string& path, std::unique_ptr<Directory>* dir) = 0;
};

// Forwards every call to `target` (ForEachChild excepted: it lists through
// this wrapper's GetChildren); override the calls you want to change.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* file) override {
    return target_->NewWritableFile(path, file);
  }
  Status NewRandomAccessFile(const std::string& path,
                             std::unique_ptr<RandomAccessFile>* file) override {
    return target_->NewRandomAccessFile(path, file);
  }
  Status GetFileInfo(const std::string& path, FileInfo* info) override {
    return target_->GetFileInfo(path, info);
  }
  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    return target_->GetChildren(dir, names);
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    return target_->RenameFile(from, to);
  }
  Status RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  Status LinkFile(const std::string& from, const std::string& to) override {
    return target_->LinkFile(from, to);
  }
  Status CreateDirs(const std::string& dir) override { return target_->CreateDirs(dir); }
  Status SyncDir(const std::string& dir) override { return target_->SyncDir(dir); }
  Status GetFreeSpace(const std::string& path, std::uint64_t* bytes) override {
    return target_->GetFreeSpace(path, bytes);
  }
  Status SetFileModeAndTime(const std::string& path, std::uint32_t mode,
                            std::int64_t mtime_ns) override {
    return target_->SetFileModeAndTime(path, mode, mtime_ns);
  }
  Status NewRandomAccessFileNoFollow(const std::string& path,
                                     std::unique_ptr<RandomAccessFile>* file,
                                     FileInfo* info) override {
    return target_->NewRandomAccessFileNoFollow(path, file, info);
  }
  Status OpenDirectory(const std::string& path, std::unique_ptr<Directory>* dir) override {
    return target_->OpenDirectory(path, dir);
  }

 private:
  Env* target_;
};

// Status for a failed system call on `path`: NoSpace for ENOSPC, NotFound for
// ENOENT, IOError otherwise; the message is "<op> <path>: <strerror>".
Status PosixError(std::string_view op, const std::string& path, int err);

// The directory part of `path` ("." when there is none).
std::string DirName(const std::string& path);
std::string BaseName(const std::string& path);
std::string JoinPath(const std::string& dir, const std::string& name);

// Temporary names fls writes before renaming: ".<name>.tmp-<unique>" beside
// the final name. IsTempName recognises them (for cleanup and listing).
std::string TempPathFor(const std::string& final_path);
bool IsTempName(std::string_view name);

// True when temporary `name` was written by a process of this host that no
// longer runs (the pid and host tag in the name; kill(pid, 0) says ESRCH).
// False when in doubt: another host's, an old-format name, a live pid.
bool TempWriterIsGone(std::string_view name);

// Removes the temporaries in `dir` that no writer will finish: those whose
// writer is gone (TempWriterIsGone), and any not modified for `min_idle_ns`
// (a writer on another host sharing the target, or an old-format name).
// Removing the temporary of a writer that is in fact still alive is safe: its
// rename then fails and its command fails; nothing committed depends on a
// temporary. `removed` (optional) gets the paths removed. The first removal
// error is returned after trying every file.
Status RemoveStaleTempFiles(Env* env, const std::string& dir, std::int64_t min_idle_ns,
                            std::vector<std::string>* removed);

// Removes the temporaries fls left beside `final_path` (".<base>.tmp-...")
// whose writer is gone from this host: what a killed restore leaves in its
// output directory. Narrower than RemoveStaleTempFiles on purpose: an output
// directory is the user's, so nothing else in it is touched, and no idle rule
// applies. A missing directory is not an error.
Status RemoveDeadWritersTempsFor(Env* env, const std::string& final_path,
                                 std::vector<std::string>* removed);
// The same for `name` in an open directory (the restore's write path).
Status RemoveDeadWritersTempsIn(Directory* dir, const std::string& name,
                                std::vector<std::string>* removed);

// The durable write: `data` to a temporary name, fsync, rename over `path`,
// fsync the directory. On failure the temporary is removed; `path` is
// untouched (old content or absent) unless only the final directory fsync
// failed: the rename has then happened, `path` holds the new data but is not
// known to be durable, and a caller undoing the write must remove it.
Status WriteFileDurably(Env* env, const std::string& path, std::string_view data);

// Opens the directory that holds `path`, walking from "/" one component at a
// time without following any symbolic link (a relative `path` is taken from
// the current directory, whose real path getcwd gives; ".." is applied to the
// spelling, never by looking up a link). `name` gets the last component.
// InvalidArgument naming the path when a component on the way is a symbolic
// link; what `fls restore --no-follow` writes through.
Status OpenParentNoFollow(Env* env, const std::string& path, std::unique_ptr<Directory>* dir,
                          std::string* name);

// Reads a whole (small) file.
Status ReadWholeFile(Env* env, const std::string& path, std::string* data,
                     std::size_t max_bytes = 64u << 20);
// The same for the regular file `rel` below `dir` (no symbolic link followed).
Status ReadWholeFile(Directory* dir, const std::string& rel, std::string* data,
                     std::size_t max_bytes = 64u << 20);

}  // namespace fls
