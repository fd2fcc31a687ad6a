// MountView: what `fls mount` serves, independent of FUSE: the tree of the
// store's names (MountTree), re-listed every `relist_seconds` on a
// background thread, names looked up directly (LocateName) when a path is
// not in the last listing, so a file archived after the listing opens at
// once by its path, and open files as ObjectStreams sharing one
// StripeCache and one backend per code. It only reads the targets.
//
// Thread-safety: every method may be called from several threads at once
// (FUSE's loop is multi-threaded). The tree is replaced whole on a re-list;
// callers hold a snapshot (shared_ptr) while they use it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>

#include "fls/backend.h"
#include "fls/object_stream.h"
#include "fls/store.h"
#include "mount_tree.h"

namespace fls::cli {

struct MountViewOptions {
  std::uint64_t cache_bytes = 256ull << 20;  // decoded stripes kept for all files
  int relist_seconds = 30;                   // 0: list only at start
  std::string backend = "auto";
  int threads = 1;  // backend threads per code
  bool read_ahead = true;
  // One line per event worth a log: listings, damage met, failed reads.
  std::function<void(const std::string& line)> log;
  // Each damaged or missing chunk met by a read (DamageRecorder::Add, which
  // queues it for the health database); may be empty.
  std::function<void(const Manifest& manifest, const StreamDamage& damage)> on_chunk_damage;
};

class MountView {
 public:
  MountView(std::unique_ptr<Store> store, MountViewOptions opt);
  ~MountView();  // stops re-listing, closes the streams still open

  // Lists the store (every object and packed file) and replaces the tree.
  void Relist();
  // Starts the re-list thread (after a daemon's fork: threads do not survive it).
  void StartRelisting();
  void StopRelisting();

  // The tree of the last listing.
  std::shared_ptr<const MountTree> tree() const;
  // The file or directory at `path` ("/a/b"): false when there is none,
  // after a direct lookup of the name when the listing does not have it.
  bool Lookup(const std::string& path, bool* dir, MountFile* file);
  // Opens the file named `name` for reading. The view owns the stream until
  // Close: the kernel's release of a file may never come (a reader still
  // holds it when the loop ends), and no stream may outlive the view.
  Status Open(const std::string& name, ObjectStream** stream);
  void Close(ObjectStream* stream);
  // Closes every stream still open; for after the FUSE loop has ended.
  void CloseAll();
  StripeCache& cache() { return cache_; }
  void Log(const std::string& line) const {
    if (opt_.log) opt_.log(line);
  }

 private:
  Status BackendFor(int k, int m, MatrixKind matrix, std::shared_ptr<Backend>* backend);

  std::unique_ptr<Store> store_;
  MountViewOptions opt_;
  StripeCache cache_;

  mutable std::mutex mu_;  // guards tree_, found_, backends_
  std::shared_ptr<const MountTree> tree_;
  std::map<std::string, MountFile> found_;  // names looked up since the listing
  std::map<std::tuple<int, int, int>, std::shared_ptr<Backend>> backends_;

  std::mutex open_mu_;  // guards open_
  std::map<ObjectStream*, std::unique_ptr<ObjectStream>> open_;

  std::mutex relist_mu_;  // guards stop_
  std::condition_variable relist_cv_;
  bool stop_ = false;
  std::thread relister_;
};

}  // namespace fls::cli
