// SweepRun: one run of a verify or repair sweep (RunSweep, fls/sweep.h). The
// catalogue is walked in windows of objects; each window is scanned by
// parallel readers and recorded (sweep.cc), and a repair sweep then rebuilds
// the window's degraded objects with the stripes of many objects merged into
// large backend calls, one group per code, block size and chunk index
// (sweep_repair.cc).
// Thread-safety: one SweepRun per sweep, driven by one thread. It runs its
// own reader and finisher threads; mu_ guards the report while they run.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "fls/archive.h"
#include "fls/backend.h"
#include "fls/store.h"
#include "fls/sweep.h"
#include "fls/unreferenced.h"
#include "object_io.h"
#include "rate_limiter.h"
#include "repair_plan.h"

namespace fls::internal {

class SweepRun {
 public:
  SweepRun(const Store& store, const SweepOptions& opt, SweepReport* report)
      : store_(store), opt_(opt), report_(report), limiter_(opt.rate_bytes_per_s) {}

  Status Run();
  void FinishDeletesAndDeadPacks();

 private:
  struct WindowObject {
    const CatalogEntry* entry = nullptr;
    ObjectReport report;
    Status scan_status;
    Health scanned = Health::kHealthy;
    bool rebuilt = false;
    std::string repair_error;
    std::uint64_t bytes = 0;
    Manifest recorded;  // the manifest the health record describes
  };

  // One object being rebuilt: its writer stays open until its last stripes
  // have come back from the backend.
  struct PendingRepair {
    WindowObject* obj = nullptr;
    Manifest next;
    std::vector<int> bad;
    std::unique_ptr<internal::RebuiltChunkWriter> writer;
    std::size_t pieces_left = 0;
    Status status;
  };

  // Stripes of one object, read once, queued for the rebuild of one of its bad
  // chunks (bad[x]); an object with several bad chunks shares the batch among
  // several groups.
  struct Piece {
    PendingRepair* repair = nullptr;
    std::shared_ptr<internal::StripeBatch> batch;
    std::size_t stripes = 0;
    std::size_t x = 0;
  };

  struct Group {
    fls::Backend* backend = nullptr;
    int n = 0;
    std::size_t block = 0;
    std::vector<int> wanted;
    std::vector<Piece> pieces;
    std::uint64_t bytes = 0;
  };

  void Scan(std::vector<WindowObject>& window);
  Status RepairWindow(std::vector<WindowObject>& window);
  Status StartRepair(WindowObject& obj, std::vector<std::unique_ptr<PendingRepair>>* pending);
  Status Backend(const Manifest& mf, fls::Backend** backend);
  void Flush(Group& g);
  void FinishRepair(PendingRepair& p);
  void RecordTargets();
  Status ProcessWindow(std::vector<CatalogEntry>& entries);
  Status Take(CatalogEntry& e, std::vector<CatalogEntry>* pending);
  void CheckUnreferenced();

  const Store& store_;
  const SweepOptions& opt_;
  SweepReport* report_;
  RateLimiter limiter_;
  std::mutex mu_;  // guards report_ during the parallel scan
  std::map<std::string, std::unique_ptr<fls::Backend>> backends_;
  std::map<std::string, Group> groups_;
  std::map<std::string, std::int64_t> target_errors_;
  internal::TargetProbe probe_;  // per window
  // Objects whose every rebuilt block is written: their chunks are fsynced,
  // renamed and their manifests committed together at the end of the window,
  // many at once, because that part is fsync latency, not bandwidth.
  std::vector<PendingRepair*> ready_;
  ChunkReferences refs_;        // where each object's chunks belong
  std::set<std::string> done_;  // object ids an interrupted run finished
  std::set<std::string> live_;  // object ids seen (the health database keeps only these)
};

}  // namespace fls::internal
