// The FUSE side of `fls mount`: serves a MountView read-only through
// libfuse3's high-level API on a multi-threaded loop until the file system
// is unmounted (`fusermount3 -u`, `umount`) or the process gets SIGTERM,
// SIGINT or SIGHUP (libfuse's handlers end the loop; the mount point is
// then unmounted before RunFuseMount returns). Built only when fuse3 was
// found at configure time (FLS_HAVE_FUSE).
//
// Inside `fls serve` (handle_signals off) the service keeps its own signal
// handlers and ends the mount with StopFuseMount from another thread.
//
// Thread-safety: one RunFuseMount per process at a time; StopFuseMount from
// any thread.
#pragma once

#include <functional>
#include <string>

#include "fls/status.h"
#include "mount_view.h"

namespace fls::cli {

struct FuseMountOptions {
  std::string mountpoint;
  bool foreground = false;  // otherwise detach once mounted (fuse_daemonize)
  bool allow_other = false;
  // libfuse's handlers: SIGTERM, SIGINT and SIGHUP end the loop. Off when the
  // caller has handlers of its own (then StopFuseMount or an unmount ends it).
  bool handle_signals = true;
  // Called once the file system is mounted (and, without `foreground`,
  // after the fork), before requests are served.
  std::function<void()> on_mounted;
};

// Mounts `view` at options.mountpoint and serves it. IOError naming the
// mount point when it cannot be mounted; Ok after a clean unmount.
Status RunFuseMount(MountView* view, const FuseMountOptions& options);

// Ends the loop of the RunFuseMount serving `mountpoint` (which then
// unmounts and returns Ok); Ok at once when none is serving.
Status StopFuseMount(const std::string& mountpoint);

}  // namespace fls::cli
