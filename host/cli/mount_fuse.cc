// RunFuseMount (mount_fuse.h): libfuse3's high-level API over a MountView.
// 3.5 is the oldest libfuse3 whose API this uses (CI distributions ship 3.10+).
#define FUSE_USE_VERSION 35
#include "mount_fuse.h"

#include <fcntl.h>
#include <fuse.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

namespace fls::cli {
namespace {

// The file system RunFuseMount serves, for StopFuseMount.
std::mutex g_serving_mu;
struct fuse* g_serving = nullptr;

MountView* View() { return static_cast<MountView*>(fuse_get_context()->private_data); }

timespec FromNs(std::int64_t ns) {
  timespec t{};
  t.tv_sec = static_cast<time_t>(ns / 1000000000);
  t.tv_nsec = static_cast<long>(ns % 1000000000);
  if (t.tv_nsec < 0) {
    t.tv_nsec += 1000000000;
    t.tv_sec -= 1;
  }
  return t;
}

void FillDir(struct stat* st, std::int64_t mtime_ns) {
  st->st_mode = S_IFDIR | 0555;
  st->st_nlink = 2;
  st->st_uid = ::getuid();
  st->st_gid = ::getgid();
  st->st_mtim = st->st_ctim = st->st_atim = FromNs(mtime_ns);
}

void FillFile(struct stat* st, const MountFile& f) {
  // Read-only: the permission bits of the original, less every write bit.
  st->st_mode = S_IFREG | (f.mode & 07555);
  st->st_nlink = 1;
  st->st_size = static_cast<off_t>(f.size);
  st->st_blksize = 1 << 20;
  st->st_blocks = static_cast<blkcnt_t>((f.size + 511) / 512);
  st->st_uid = ::getuid();
  st->st_gid = ::getgid();
  st->st_mtim = st->st_ctim = st->st_atim = FromNs(f.mtime_ns);
}

void* Init(struct fuse_conn_info* conn, struct fuse_config* cfg) {
  (void)conn;
  // Archived files do not change under a name except by a new generation,
  // which a re-list shows; a second of attribute caching is plenty.
  cfg->entry_timeout = 1;
  cfg->attr_timeout = 1;
  cfg->negative_timeout = 1;
  cfg->use_ino = 0;
  return View();
}

int GetAttr(const char* path, struct stat* st, struct fuse_file_info* fi) {
  (void)fi;
  std::memset(st, 0, sizeof *st);
  bool dir = false;
  MountFile f;
  if (!View()->Lookup(path, &dir, &f)) return -ENOENT;
  if (dir) {
    const MountNode* n = View()->tree()->Find(path);
    FillDir(st, n ? n->mtime_ns : 0);
  } else {
    FillFile(st, f);
  }
  return 0;
}

int ReadDir(const char* path, void* buf, fuse_fill_dir_t fill, off_t offset,
            struct fuse_file_info* fi, enum fuse_readdir_flags flags) {
  (void)offset;
  (void)fi;
  (void)flags;
  // The snapshot keeps the nodes alive while they are listed.
  std::shared_ptr<const MountTree> tree = View()->tree();
  const MountNode* n = tree->Find(path);
  if (n == nullptr) return -ENOENT;
  if (!n->dir) return -ENOTDIR;
  fill(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  fill(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  for (const auto& [name, child] : n->children) {
    struct stat st {};
    if (child->dir)
      FillDir(&st, child->mtime_ns);
    else
      FillFile(&st, child->file);
    if (fill(buf, name.c_str(), &st, 0, static_cast<fuse_fill_dir_flags>(0)) != 0) break;
  }
  return 0;
}

int Open(const char* path, struct fuse_file_info* fi) {
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return -EROFS;
  bool dir = false;
  MountFile f;
  if (!View()->Lookup(path, &dir, &f)) return -ENOENT;
  if (dir) return -EISDIR;
  ObjectStream* stream = nullptr;
  Status s = View()->Open(f.name, &stream);
  if (!s.ok()) {
    View()->Log("open '" + f.name + "' failed: " + s.ToString());
    return s.code() == Status::Code::kNotFound ? -ENOENT : -EIO;
  }
  fi->fh = reinterpret_cast<std::uint64_t>(stream);
  return 0;
}

int Read(const char* path, char* buf, size_t size, off_t offset, struct fuse_file_info* fi) {
  (void)path;
  auto* stream = reinterpret_cast<ObjectStream*>(fi->fh);
  if (offset < 0) return -EINVAL;
  std::size_t got = 0;
  Status s = stream->Read(static_cast<std::uint64_t>(offset), size,
                          reinterpret_cast<std::uint8_t*>(buf), &got);
  if (!s.ok()) {
    View()->Log("read of '" + std::string(path ? path : "?") + "' at " + std::to_string(offset) +
                "+" + std::to_string(size) + " failed (EIO): " + s.ToString());
    return -EIO;
  }
  return static_cast<int>(got);
}

int Release(const char* path, struct fuse_file_info* fi) {
  (void)path;
  View()->Close(reinterpret_cast<ObjectStream*>(fi->fh));
  return 0;
}

struct fuse_operations MakeOperations() {
  struct fuse_operations ops {};
  ops.init = Init;
  ops.getattr = GetAttr;
  ops.readdir = ReadDir;
  ops.open = Open;
  ops.read = Read;
  ops.release = Release;
  return ops;
}

}  // namespace

Status RunFuseMount(MountView* view, const FuseMountOptions& options) {
  std::vector<std::string> argv_s = {"fls-mount", "-o", "ro,default_permissions,fsname=fls", "-o",
                                     "subtype=fls"};
  if (options.allow_other) argv_s.insert(argv_s.end(), {"-o", "allow_other"});
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  struct fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  const struct fuse_operations ops = MakeOperations();
  struct fuse* f = fuse_new(&args, &ops, sizeof ops, view);
  if (f == nullptr) return Status::IOError("fuse_new failed (libfuse printed why)");
  std::unique_ptr<struct fuse, void (*)(struct fuse*)> guard(f, fuse_destroy);
  if (fuse_mount(f, options.mountpoint.c_str()) != 0)
    return Status::IOError("cannot mount on " + options.mountpoint +
                           " (is /dev/fuse usable, fusermount3 installed, the directory empty?)");
  struct fuse_session* se = fuse_get_session(f);
  if (options.handle_signals && fuse_set_signal_handlers(se) != 0) {
    fuse_unmount(f);
    return Status::IOError("cannot install signal handlers for the mount");
  }
  if (fuse_daemonize(options.foreground ? 1 : 0) != 0) {
    if (options.handle_signals) fuse_remove_signal_handlers(se);
    fuse_unmount(f);
    return Status::IOError("cannot detach from the terminal");
  }
  {
    std::lock_guard<std::mutex> l(g_serving_mu);
    g_serving = f;
  }
  if (options.on_mounted) options.on_mounted();
  // A config, not null: libfuse 3.14's compatibility entry for this API
  // version dereferences it (measured: SIGSEGV in fuse_loop_cfg_convert).
  struct fuse_loop_config loop {};
  loop.clone_fd = 0;
  loop.max_idle_threads = 10;
  const int rc = fuse_loop_mt(f, &loop);
  {
    std::lock_guard<std::mutex> l(g_serving_mu);
    g_serving = nullptr;
  }
  if (options.handle_signals) fuse_remove_signal_handlers(se);
  fuse_unmount(f);
  fuse_opt_free_args(&args);
  if (rc < 0) return Status::IOError("FUSE loop ended with " + std::string(std::strerror(-rc)));
  return Status::Ok();
}

Status StopFuseMount(const std::string& mountpoint) {
  {
    std::lock_guard<std::mutex> l(g_serving_mu);
    if (g_serving == nullptr) return Status::Ok();  // not serving (or ended already)
    fuse_exit(g_serving);
  }
  // The loop's threads see the exit flag only after a request: a lookup of
  // a name never asked for (so not in the kernel's negative cache) makes one.
  // Once the loop ends, RunFuseMount unmounts (lazily when busy) and closes
  // the device, which fails the requests of a reader still holding a file.
  static std::atomic<int> seq{0};
  const std::string poke = mountpoint + "/.fls-stop-" + std::to_string(::getpid()) + "-" +
                           std::to_string(seq++) + "-" + std::to_string(::time(nullptr));
  struct stat st {};
  (void)::stat(poke.c_str(), &st);
  return Status::Ok();
}

}  // namespace fls::cli
