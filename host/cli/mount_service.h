// ServiceMount: the `mount:` key of the service config. `fls serve` serves
// the view `fls mount` shows (the same MountView, DamageRecorder and
// RunFuseMount) at mount.path on a thread of its own while the service
// runs, recording the damage its reads meet to the service's health
// database. The service keeps its own SIGINT/SIGTERM handlers: Stop ends
// the FUSE loop (StopFuseMount), which unmounts, and waits for it.
//
// Thread-safety: Start and Stop from one thread; one ServiceMount per process.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "fls/service/config.h"
#include "fls/status.h"

namespace fls::cli {

class MountView;
class DamageRecorder;

class ServiceMount {
 public:
  ServiceMount();
  ~ServiceMount();  // Stop()

  // Returns once config.mount.path is mounted. InvalidArgument or
  // Unavailable naming the key and the path when the mount point is missing
  // or not a directory, FUSE is unavailable or the mount fails.
  Status Start(const service::ServiceConfig& config);
  // Unmounts (when mounted) and waits for the serving thread.
  void Stop();

 private:
  std::string path_;
  std::unique_ptr<DamageRecorder> recorder_;
  std::unique_ptr<MountView> view_;
  std::thread thread_;
  bool mounted_ = false;
};

}  // namespace fls::cli
