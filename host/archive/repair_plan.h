// The pieces of a repair that RepairObject (one object) and the sweep (many
// objects, batched reconstruction) share: where rebuilt chunks go, writing
// them invisibly until they are checked, and committing the new manifest
// generation that points at them.
//
// Thread-safety: free functions and a single-owner writer; concurrent use on
// different objects is safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fls/manifest.h"
#include "fls/status.h"
#include "fls/store.h"
#include "object_io.h"

namespace fls::internal {

// Which targets of the store are usable (directory there and listable; a
// directory gone or unreadable is a lost target) and their free bytes.
// Probed once and shared by the repairs of many objects; placement subtracts
// what it assigns so that rebuilt chunks spread.
struct TargetProbe {
  std::vector<bool> usable;
  std::vector<std::uint64_t> free;
};
TargetProbe ProbeTargets(const Store& store);

// For each chunk index in `bad`: -1 when it is rebuilt in place (its target
// directory is still there), else the store target it moves to: one holding
// no other chunk of the object, new failure domains first, then most free
// space; a target already used by the object only as a last resort.
// NoSpace when no target can take a chunk.
Status ChooseRepairTargets(const Store& store, const Manifest& mf, const std::vector<int>& bad,
                           TargetProbe* probe, std::vector<int>* new_target);

// `mf` with the moved chunks pointing at their new targets.
Manifest MovedManifest(const Store& store, const Manifest& mf, const std::vector<int>& bad,
                       const std::vector<int>& new_target);

// Writes the rebuilt chunks `bad` of `next` to temporaries; Finish checks
// each against the manifest's size and CRC32C, fsyncs and renames them into
// place. Until Finish succeeds nothing is visible; Abort (or destruction
// without Finish) removes the temporaries.
class RebuiltChunkWriter {
 public:
  RebuiltChunkWriter(Env* env, const Manifest& next, std::vector<int> bad);
  ~RebuiltChunkWriter() { Abort(); }
  Status Open();
  // Appends stripe blocks: blocks[x] is chunk bad[x]'s block of the next stripe.
  Status AppendStripe(const std::uint8_t* const* blocks);
  // Appends chunk bad[x]'s block of its next stripe (each chunk advances on
  // its own, so chunks of one object may be rebuilt by different batches).
  Status AppendBlock(std::size_t x, const std::uint8_t* block);
  Status Finish(std::vector<std::string>* final_paths);
  void Abort();
  const std::vector<int>& bad() const { return bad_; }

 private:
  struct Out {
    std::unique_ptr<BufferedAppender> file;
    std::string tmp, final_path;
  };
  Env* env_;
  Manifest next_;
  std::vector<int> bad_;
  std::vector<Out> outs_;
  bool finished_ = false;
};

// Commits `mf` (chunks already in place) as the generation after every one
// found for `entry`, with manifest copies on targets that exist now, then
// removes the superseded copies. `generation` gets the new number.
Status CommitRepairedManifest(const Store& store, const CatalogEntry& entry, Manifest mf,
                              std::uint64_t* generation);

}  // namespace fls::internal
