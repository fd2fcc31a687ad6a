// The store's maintenance lock: repair sweeps and rebalancing both rewrite
// manifests and remove the chunk files an older generation pointed at, so two
// of them on one object could each commit a generation that points at a file
// the other removed. They take this lock first and never overlap.
//
// The lock is an exclusive flock(2) on `.fls-maintenance.lock` in every
// target directory that exists, taken in path order; holding all of them
// means two processes whose target lists overlap in any target conflict.
// A process killed while holding it releases it with its file descriptors.
// The file also records who holds it, for the error the next one gets.
//
// Thread-safety: a MaintenanceLock is owned by one thread; flock locks belong
// to open file descriptions, so a second Acquire in the same process conflicts
// just as another process's would.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fls/status.h"
#include "fls/store.h"

namespace fls::internal {

inline constexpr char kMaintenanceLockName[] = ".fls-maintenance.lock";

class MaintenanceLock {
 public:
  ~MaintenanceLock();
  MaintenanceLock(const MaintenanceLock&) = delete;
  MaintenanceLock& operator=(const MaintenanceLock&) = delete;

  // `what` names the holder in the conflict message ("repair sweep",
  // "rebalance"). Unavailable naming the target and the current holder when
  // another process (or another lock of this one) holds it; IOError when a
  // lock file cannot be created in a target that exists.
  static Status Acquire(const Store& store, const std::string& what,
                        std::unique_ptr<MaintenanceLock>* lock);

 private:
  MaintenanceLock() = default;
  std::vector<int> fds_;
};

// Acquire, waiting up to `wait_ms` for another holder to finish (retrying
// every 100 ms): deletes and compaction wait for a sweep rather than fail at
// once. Unavailable naming the holder when the wait runs out.
Status AcquireMaintenanceLock(const Store& store, const std::string& what, int wait_ms,
                              std::unique_ptr<MaintenanceLock>* lock);

}  // namespace fls::internal
