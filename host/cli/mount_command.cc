// `fls mount [STORE] MOUNTPOINT`: the store as a read-only file system
// (mount_view.h for what is shown, mount_fuse.h for how it is served).
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>

#include "commands.h"
#include "fls/byte_size.h"
#include "fls/health_db.h"
#include "mount_health.h"
#include "mount_view.h"
#include "store_args.h"
#ifdef FLS_HAVE_FUSE
#include "mount_fuse.h"
#endif

namespace fls::cli {
namespace {

// Log lines go to stderr and, with --log, to a file (stderr is /dev/null
// once a mount without --foreground detaches).
class MountLog {
 public:
  Status OpenFile(const std::string& path) {
    file_ = std::fopen(path.c_str(), "a");
    if (file_ == nullptr) return Status::IOError("cannot open --log file " + path);
    return Status::Ok();
  }
  ~MountLog() {
    if (file_) std::fclose(file_);
  }
  void Line(const std::string& text) {
    char when[32];
    const std::time_t now = std::time(nullptr);
    struct tm tm {};
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", ::gmtime_r(&now, &tm));
    std::lock_guard<std::mutex> l(mu_);
    std::fprintf(stderr, "fls mount: %s\n", text.c_str());
    if (file_) {
      std::fprintf(file_, "%sZ %s\n", when, text.c_str());
      std::fflush(file_);
    }
  }

 private:
  std::mutex mu_;
  std::FILE* file_ = nullptr;
};

struct MountArgs {
  CommonArgs common;
  bool foreground = false, allow_other = false, no_read_ahead = false;
  std::string cache = "256M";
  int relist = 30;
  std::string log;
  std::string db;  // health database; default as for sweep
};

// The health database a mount records damage to: --db, else the store's
// default (DefaultHealthDbPath), the one `fls sweep` uses.
std::string MountDbPath(const Store& store, const std::string& db) {
  if (!db.empty()) return db;
  std::vector<std::string> paths;
  for (const Target& t : store.targets()) paths.push_back(t.path);
  return DefaultHealthDbPath(paths);
}

void RunMount(MountArgs* a, int& exit_code) {
  std::unique_ptr<Store> store;
  Status s = OpenStore(&a->common, 1, &store);
  if (s.ok() && a->common.positional.size() != 1)
    s = Status::InvalidArgument("mount takes one MOUNTPOINT");
  MountViewOptions opt;
  if (s.ok()) s = ParseByteSize(a->cache, &opt.cache_bytes).WithContext("--cache");
  if (s.ok() && a->relist < 0) s = Status::InvalidArgument("--relist must be 0 or more seconds");
  auto log = std::make_shared<MountLog>();
  if (s.ok() && !a->log.empty()) s = log->OpenFile(a->log);
  std::string db_path;
  if (s.ok()) db_path = MountDbPath(*store, a->db);
  // A --db that was named must work. The default one is left alone until
  // there is damage to record: reading needs no database.
  if (s.ok() && !a->db.empty()) s = DamageRecorder::CheckDatabase(db_path).WithContext("--db");
  if (!s.ok()) {
    exit_code = Fail("mount", s);
    return;
  }
#ifndef FLS_HAVE_FUSE
  exit_code = Fail("mount", Status::Unavailable("this fls was built without FUSE (configured with "
                                                "FLS_FUSE=OFF, or libfuse3 was not found)"));
#else
  const std::string mountpoint = a->common.positional[0];
  opt.relist_seconds = a->relist;
  opt.backend = a->common.backend;
  opt.threads = a->common.threads > 0 ? a->common.threads : 1;
  opt.read_ahead = !a->no_read_ahead;
  opt.log = [log](const std::string& line) { log->Line(line); };
  DamageRecorder recorder(db_path, opt.log);
  opt.on_chunk_damage = [&recorder](const Manifest& mf, const StreamDamage& d) {
    recorder.Add(mf, d);
  };
  MountView view(std::move(store), opt);
  view.Relist();
  FuseMountOptions fo;
  fo.mountpoint = mountpoint;
  fo.foreground = a->foreground;
  fo.allow_other = a->allow_other;
  fo.on_mounted = [&] {
    recorder.Start();
    view.StartRelisting();
    log->Line("mounted at " + mountpoint + " (read-only; unmount with `fusermount3 -u " +
              mountpoint + "` or SIGTERM)");
  };
  s = RunFuseMount(&view, fo);
  view.StopRelisting();
  view.CloseAll();  // before the recorder stops: a stream's read-ahead may still report
  recorder.Stop();
  if (recorder.written() > 0 || recorder.dropped() > 0)
    log->Line("health database " + db_path + ": " + std::to_string(recorder.written()) +
              " damaged chunk finding(s) recorded, " + std::to_string(recorder.dropped()) +
              " dropped");
  if (!s.ok()) {
    exit_code = Fail("mount", s);
    return;
  }
  log->Line("unmounted " + mountpoint);
  exit_code = kExitOk;
#endif
}

}  // namespace

void AddMountCommand(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("mount", "Show the store as a read-only file system (FUSE)");
  auto a = std::make_shared<MountArgs>();
  AddCommon(cmd, &a->common, true);
  cmd->add_flag("-f,--foreground", a->foreground, "Stay in the foreground (else detach)");
  cmd->add_option("--cache", a->cache, "Decoded stripes kept for all files (default 256M)");
  cmd->add_option("--relist", a->relist,
                  "Seconds between listings of the store (default 30; 0: only at start)");
  cmd->add_option("--log", a->log, "Also append log lines (damage met, failed reads) to FILE");
  cmd->add_option("--db", a->db,
                  "Health database the damage met is recorded to (default: as for sweep)");
  cmd->add_flag("--allow-other", a->allow_other, "Let other users read the mount");
  cmd->add_flag("--no-read-ahead", a->no_read_ahead,
                "Do not decode the next stripe ahead of sequential reads");
  cmd->add_option("args", a->common.positional, "[STORE] MOUNTPOINT")->required();
  cmd->callback([a, &exit_code] { RunMount(a.get(), exit_code); });
}

}  // namespace fls::cli
