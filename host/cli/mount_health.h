// DamageRecorder: writes the damage a mount's reads meet (fls/object_stream.h
// StreamDamage) to the store's health database (fls/health_db.h), so that
// `fls ls --degraded` and `fls targets` show it and the next sweep repairs
// it. The mount never writes to a target; the database lives outside them.
//
// FUSE reads must not wait on SQLite: Add only queues (merging findings of
// the same chunk, dropping those already queued or written), and one
// background thread writes the queue, one transaction per object. The queue
// is bounded; a finding that does not fit is dropped with a log line (the
// next sweep finds the damage anyway). A database that cannot be opened or
// written is logged, never returned to a read.
//
// Thread-safety: Add may be called from any thread at once; Start and Stop
// from one thread (Start after a daemon's fork: threads do not survive it).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>

#include "fls/manifest.h"
#include "fls/object_stream.h"
#include "fls/status.h"

namespace fls::cli {

class DamageRecorder {
 public:
  // `db_path`: the health database; `log`: one line per problem.
  DamageRecorder(std::string db_path, std::function<void(const std::string&)> log,
                 std::size_t max_pending_chunks = 4096);
  ~DamageRecorder();  // Stop()

  // Opens the database once and closes it, so that a bad path fails the
  // start of a mount instead of its first damaged read.
  static Status CheckDatabase(const std::string& db_path);

  void Start();
  // Writes what is queued, then ends the thread.
  void Stop();
  void Add(const Manifest& mf, const StreamDamage& damage);

  // Chunk findings written, and dropped because the queue was full.
  std::uint64_t written() const;
  std::uint64_t dropped() const;

 private:
  struct Pending {
    Manifest manifest;
    std::map<int, ChunkReport> chunks;
  };
  void Run();
  void Write(std::map<std::string, Pending>& batch);

  const std::string db_path_;
  const std::function<void(const std::string&)> log_;
  const std::size_t max_pending_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::map<std::string, Pending> pending_;  // by object id and generation
  std::size_t pending_chunks_ = 0;
  // (object id and generation, chunk, stripe or UINT64_MAX) queued or written.
  std::set<std::tuple<std::string, int, std::uint64_t>> seen_;
  std::uint64_t written_ = 0, dropped_ = 0;
  bool stop_ = false, full_logged_ = false;
  std::thread thread_;
};

}  // namespace fls::cli
