// Unreferenced chunk files: chunk files on the targets that no manifest
// names where they lie. A whole-store check (`fls verify`, sweeps,
// rebalance) records every object's placement while it walks the catalogue
// (ChunkReferences::Add), then lists the targets' chunk files
// (FindUnreferencedChunks):
//
//   orphan    no readable manifest names the object: chunks of an archive
//             that never committed, or of an object whose every manifest
//             copy is lost. Reported, never removed (they may be all that
//             is left of an object).
//   leftover  the object's manifest places this chunk on another target,
//             and a file is there: an interrupted repair or rebalance left
//             this one. A repair sweep or rebalance removes it once the
//             placed copy checks out.
//
// Temporaries are not chunk files, and files modified less than `min_age_ns`
// ago are passed over: a writer renames its chunks into place shortly
// before it commits their manifest.
//
// Memory: about 40 + 6 (k + m) bytes per object recorded.
// Thread-safety: ChunkReferences is a value for one thread; FindUnreferenced-
// Chunks may run concurrently with readers and writers of the store.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fls/chunk_format.h"
#include "fls/manifest.h"
#include "fls/status.h"
#include "fls/store.h"

namespace fls {

class ChunkReferences {
 public:
  // Records where `m` places its chunks; for one object id the last Add wins
  // (a repair committed after the walk read the object).
  void Add(const Store& store, const Manifest& m);
  // Sorts what was added; call once after the last Add, before lookups.
  void Finish();
  bool Knows(const ObjectId& id) const;
  // The store target index manifest places chunk `index` of object `id` on:
  // -1 when that target is not one of the store's (or the index is out of
  // range), -2 when the object is not known.
  int PlacedTarget(const ObjectId& id, int index) const;
  // The manifest's CRC32C and size of that chunk (false when unknown).
  bool Expected(const ObjectId& id, int index, std::uint32_t* crc32c, std::uint64_t* bytes) const;
  std::size_t objects() const { return refs_.size(); }

 private:
  struct Ref {
    ObjectId id;
    std::uint32_t first = 0;  // into targets_ and crcs_
    std::uint16_t count = 0;
    std::uint64_t bytes = 0;  // every chunk file of an object has one size
  };
  const Ref* Find(const ObjectId& id) const;
  std::vector<Ref> refs_;
  std::vector<std::int16_t> targets_;
  std::vector<std::uint32_t> crcs_;
  bool finished_ = false;
};

struct UnreferencedChunk {
  std::string path;
  std::uint64_t bytes = 0;
  bool orphan = true;  // false: a leftover of a known object
  ObjectId id{};
  int index = 0;
  std::string reason;  // human-readable
};

inline constexpr std::int64_t kUnreferencedMinAgeNs = 10LL * 60 * 1000 * 1000 * 1000;

// Lists every target's chunk files against `refs` (finished). Unreadable
// targets go to `warnings`.
void FindUnreferencedChunks(const Store& store, const ChunkReferences& refs,
                            std::int64_t min_age_ns, std::vector<UnreferencedChunk>* out,
                            std::vector<std::string>* warnings);

}  // namespace fls
