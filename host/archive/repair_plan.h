// The pieces of a repair that RepairObject (one object) and the sweep (many
// objects, batched reconstruction) share: where rebuilt chunks go, writing
// them invisibly until they are checked, and committing the new manifest
// generation that points at them.
//
// Thread-safety: free functions and a single-owner writer; concurrent use on
// different objects is safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "chunk_checksum.h"
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

// Block size a repair sweep reconstructs a run of `block`-byte stripes at, in
// an object of full blocks `full`: the short last stripes of objects all
// differ in size, and a backend call takes one size, so they would each need
// their own call. Padded with zeros in memory (Reed-Solomon is byte-wise and
// linear: zero padding reconstructs to zero padding) to the next power of two
// of at least 64 KiB, capped at `full`, they share calls with each other and
// with full stripes, for at most twice the arithmetic (or 64 KiB a block).
std::size_t RepairGroupBlock(std::size_t block, std::size_t full);

// A copy of `b`'s k + m shards (n per stripe) zero-padded to `block` bytes
// each; lost shards stay null.
std::shared_ptr<StripeBatch> PaddedBatch(const StripeBatch& b, int n, std::size_t block);

// Writes the rebuilt chunks `bad` of `next` to temporaries; Finish checks
// each against the manifest's size and chunk checksum, fsyncs and renames
// them into place. Until Finish succeeds nothing is visible; Abort (or destruction
// without Finish) removes the temporaries.
class RebuiltChunkWriter {
 public:
  RebuiltChunkWriter(Env* env, const Manifest& next, std::vector<int> bad);
  ~RebuiltChunkWriter() { Abort(); }
  Status Open();
  // Appends stripe blocks: blocks[x] is chunk bad[x]'s block of the next stripe.
  Status AppendStripe(const std::uint8_t* const* blocks);
  // Adds chunk bad[x]'s block of stripe `stripe`: that stripe's block size
  // is written (what follows in a padded block is its zero padding).
  // Each chunk advances on its own, so chunks of one object may be rebuilt
  // by different batches; a block that comes before the stripes ahead of it
  // (a short last stripe rebuilt in a batch of its block size) is held in
  // memory until they are written.
  Status AppendBlock(std::size_t x, std::uint64_t stripe, const std::uint8_t* block);
  Status Finish(std::vector<std::string>* final_paths);
  void Abort();
  const std::vector<int>& bad() const { return bad_; }

 private:
  struct Out {
    std::unique_ptr<BufferedAppender> file;
    std::string tmp, final_path;
    std::uint64_t stripe = 0;                                  // the next stripe to append
    std::uint32_t sum = 0;                                     // the chunk checksum so far
    std::map<std::uint64_t, std::vector<std::uint8_t>> early;  // blocks ahead of `stripe`
  };
  Status Write(Out& o, int index, const std::uint8_t* block);
  Env* env_;
  Manifest next_;
  StripeGeometry geometry_;
  ChunkChecksummer checksummer_;
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
