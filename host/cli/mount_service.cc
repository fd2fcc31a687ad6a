// ServiceMount (mount_service.h).
#include "mount_service.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>

#include "mount_health.h"
#include "mount_view.h"
#ifdef FLS_HAVE_FUSE
#include "mount_fuse.h"
#endif

namespace fls::cli {
namespace {

// "FILE: key 'mount.path': '/srv/view' why", as the config's own errors read.
Status KeyError(const service::ServiceConfig& c, Status::Code code, const std::string& why) {
  const std::string text = c.source_file + ": key 'mount.path': '" + c.mount.path + "' " + why;
  return code == Status::Code::kUnavailable ? Status::Unavailable(text)
                                            : Status::InvalidArgument(text);
}

}  // namespace

ServiceMount::ServiceMount() = default;
ServiceMount::~ServiceMount() { Stop(); }

Status ServiceMount::Start(const service::ServiceConfig& c) {
  const auto invalid = Status::Code::kInvalidArgument;
  struct stat st {};
  if (::stat(c.mount.path.c_str(), &st) != 0)
    return KeyError(c, invalid, "cannot be mounted on: " + std::string(std::strerror(errno)));
  if (!S_ISDIR(st.st_mode)) return KeyError(c, invalid, "is not a directory");
#ifndef FLS_HAVE_FUSE
  return KeyError(c, Status::Code::kUnavailable,
                  "cannot be mounted: this fls was built without FUSE (configured with "
                  "FLS_FUSE=OFF, or libfuse3 was not found)");
#else
  if (::access("/dev/fuse", R_OK | W_OK) != 0)
    return KeyError(c, Status::Code::kUnavailable,
                    "cannot be mounted: /dev/fuse: " + std::string(std::strerror(errno)));
  std::vector<Target> targets;
  for (const auto& t : c.store.targets) targets.push_back({t.path, t.domain});
  std::unique_ptr<Store> store;
  FLS_RETURN_IF_ERROR(Store::FromTargets(Env::Default(), std::move(targets), &store)
                          .WithContext("mount: opening the store"));
  const std::string db = c.HealthDbPath();
  FLS_RETURN_IF_ERROR(DamageRecorder::CheckDatabase(db).WithContext("mount: health database"));
  MountViewOptions opt;
  opt.cache_bytes = c.mount.cache_bytes;
  opt.relist_seconds = c.mount.relist_seconds;
  opt.backend = c.store.backend;
  opt.log = [](const std::string& line) {
    // A re-list every few seconds is routine; damage and failures are not.
    if (line.rfind("listed ", 0) == 0)
      spdlog::debug("mount: {}", line);
    else
      spdlog::info("mount: {}", line);
  };
  recorder_ = std::make_unique<DamageRecorder>(db, opt.log);
  opt.on_chunk_damage = [r = recorder_.get()](const Manifest& mf, const StreamDamage& d) {
    r->Add(mf, d);
  };
  view_ = std::make_unique<MountView>(std::move(store), opt);
  view_->Relist();
  recorder_->Start();
  auto up = std::make_shared<std::promise<Status> >();
  std::future<Status> mounted = up->get_future();
  FuseMountOptions fo;
  fo.mountpoint = c.mount.path;
  fo.foreground = true;
  fo.allow_other = c.mount.allow_other;
  fo.handle_signals = false;
  fo.on_mounted = [this, up] {
    view_->StartRelisting();
    up->set_value(Status::Ok());
  };
  thread_ = std::thread([this, fo, up] {
    Status s = RunFuseMount(view_.get(), fo);
    if (!s.ok()) spdlog::error("mount: {}", s.ToString());
    try {
      up->set_value(s.ok() ? Status::IOError("the FUSE loop ended before it mounted") : s);
    } catch (const std::future_error&) {  // mounted already: the value was set
    }
  });
  Status s = mounted.get();
  if (!s.ok()) {
    Stop();
    return KeyError(c, Status::Code::kUnavailable, "cannot be mounted: " + s.ToString());
  }
  path_ = c.mount.path;
  mounted_ = true;
  spdlog::info("mount: the store is mounted read-only at {}", path_);
  return Status::Ok();
#endif
}

void ServiceMount::Stop() {
#ifdef FLS_HAVE_FUSE
  if (mounted_) {
    mounted_ = false;
    Status s = StopFuseMount(path_);
    if (!s.ok()) spdlog::error("mount: {}", s.ToString());
  }
#endif
  if (thread_.joinable()) thread_.join();
  // Stops re-listing and closes the streams a reader left open, whose
  // read-ahead may still report to the recorder.
  view_.reset();
  if (recorder_) recorder_->Stop();
  if (!path_.empty()) spdlog::info("mount: unmounted {}", path_);
  path_.clear();
  recorder_.reset();
}

}  // namespace fls::cli
