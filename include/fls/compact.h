// Pack compaction (`fls compact`, the service's compact jobs and schedule):
// reclaims the bytes of deleted packed files.
//
// Deleting a packed file (fls/delete.h) leaves its bytes in its pack. A
// pack's dead share is the part of its files' bytes whose names no longer
// resolve to it (deleted, or archived again elsewhere). A pack whose dead
// share reaches the threshold is rewritten: its live files are read (each
// checked against its SHA-256) into a new pack, which commits like any pack
// (chunks, manifest), then each live file's member record is replaced by one
// naming the new pack, then the old pack is deleted (tombstone, chunks,
// tombstone). A pack with no live file is deleted at once. A kill at any
// point leaves every live file readable: before its record moves it is read
// from the old pack, after from the new one, and the old pack goes only
// once no record names it. A rerun (or a repair sweep, which removes packs
// left with no live file) finishes the work; a new pack left without
// records by a kill is a pack with no live file and goes the same way.
//
// Packs younger than min_age are left alone: an archive commits a pack's
// manifest before its members' records, so a new pack looks dead for a
// moment. Packs written before member records (index fls-pack/1) are never
// judged dead: `fls upgrade` gives their files records first.
//
// Restores meanwhile keep working: a restore that finds its file moved
// (its record names another pack than the one it started reading) starts
// again from the new pack (fls/archive.h, ReadObject).
//
// Thread-safety: free functions; compaction takes the store's maintenance
// lock (one compaction, sweep, rebalance or delete at a time).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fls/archive.h"
#include "fls/pack.h"
#include "fls/status.h"
#include "fls/store.h"

namespace fls {

struct CompactOptions {
  // Rewrite packs whose dead share of file bytes is at least this (0..1).
  double min_dead = 0.5;
  // Leave packs whose manifest is younger than this (ns).
  std::int64_t min_age_ns = 600LL * 1000 * 1000 * 1000;
  int lock_wait_ms = 30000;
  // Rewrite packs written before member records (index fls-pack/1) whatever
  // their dead share, once all their files have records: their files can
  // then be deleted. Repair sweeps, which only remove dead packs, do not.
  bool rewrite_pre_record_packs = true;
  ArchiveOptions archive;  // code shape and backend of the new packs
  PackOptions pack;
};

struct CompactReport {
  std::uint64_t packs = 0;            // packs examined
  std::uint64_t packs_too_young = 0;  // left for now (min_age)
  std::uint64_t packs_rewritten = 0;  // live files moved to new packs, old pack deleted
  std::uint64_t packs_removed = 0;    // no live file: deleted
  std::uint64_t files_moved = 0;
  std::uint64_t live_bytes = 0, dead_bytes = 0;  // file bytes in the packs examined
  std::uint64_t dead_bytes_reclaimed = 0;
  std::uint64_t bytes_moved = 0;
  std::vector<std::string> warnings;
  std::vector<std::string> failures;  // packs that could not be compacted, and why
};

// Compacts every pack of the store under the maintenance lock (waiting up
// to options.lock_wait_ms; Unavailable naming the holder after that).
// Per-pack failures go to report->failures; the others go on.
Status CompactStore(const Store& store, const CompactOptions& options, CompactReport* report);

namespace internal {
// The same without taking the lock: for callers that hold it (repair
// sweeps remove packs left with no live file: min_dead = 1).
void CompactPacks(const Store& store, const CompactOptions& options, CompactReport* report);
}  // namespace internal

}  // namespace fls
