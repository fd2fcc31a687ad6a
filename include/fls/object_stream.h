// ObjectStream: pull-style random reads of one name's bytes (an object, or a
// packed file as the range of its pack), for `fls mount`. It reads through
// the same checked path as `fls restore --range` (ObjectReader reads only
// the stripes a read touches, every block's CRC32C is checked, missing or
// damaged blocks are rebuilt from parity by RebuildDataBlocks), decoding
// whole stripes and keeping them in a StripeCache so that the small reads a
// kernel issues (128 KiB) do not decode a stripe each. A stripe with more
// than m bad blocks fails the read (Unrecoverable): never wrong bytes.
// A read that continues the previous one (sequential access) starts
// decoding the next stripe on a background thread (read-ahead).
//
// Unlike a restore, a range read cannot check the file's SHA-256 (it needs
// every byte); the per-block CRCs are what protects it.
//
// Thread-safety: StripeCache is safe from any thread. ObjectStream::Read may
// be called from several threads at once (decoding is serialized per stream).
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fls/backend.h"
#include "fls/pack.h"
#include "fls/status.h"
#include "fls/store.h"

namespace fls {

// The decoded data bytes of one stripe (its real file bytes, no padding).
using DecodedStripe = std::shared_ptr<const std::string>;

// A least-recently-used cache of decoded stripes, bounded in bytes, shared
// by every stream of a mount. Keys name the object, its generation and the
// stripe, so a new generation never serves an old one's bytes.
class StripeCache {
 public:
  explicit StripeCache(std::uint64_t capacity_bytes) : capacity_(capacity_bytes) {}
  DecodedStripe Get(const std::string& key);
  // Keeps `stripe` unless it alone is larger than the capacity; evicts the
  // least recently used stripes beyond it.
  void Put(const std::string& key, DecodedStripe stripe);
  std::uint64_t hits() const;
  std::uint64_t misses() const;

 private:
  using Lru = std::list<std::pair<std::string, DecodedStripe>>;
  mutable std::mutex mu_;
  const std::uint64_t capacity_;
  std::uint64_t bytes_ = 0, hits_ = 0, misses_ = 0;
  Lru lru_;  // most recent first
  std::unordered_map<std::string, Lru::iterator> index_;
};

// A damaged or missing chunk a stream met, as the health database records
// it (fls/health_db.h).
struct StreamDamage {
  int chunk = 0;
  std::string state;  // a ChunkReport state: missing, damaged, truncated, unreadable, ...
  std::string detail;
  std::vector<std::uint64_t> stripes;  // the bad block's stripe; empty: the whole chunk
};

struct ObjectStreamOptions {
  // The backend for a code of k + m (a mount shares one per code); when
  // empty, a new `auto` backend of one thread per stream.
  std::function<Status(int k, int m, MatrixKind matrix, std::shared_ptr<Backend>* backend)>
      make_backend;
  StripeCache* cache = nullptr;  // may be null: then only the stream's last stripes are kept
  bool read_ahead = true;
  // Each damaged or missing chunk met is reported once per stream (a line
  // naming the object, the chunk, its path and why), so that it is logged
  // and the next sweep repairs it.
  std::function<void(const std::string& line)> on_damage;
  // The same findings for the health database: each unusable chunk once, and
  // each bad block once per stream. Called with the stream's decode lock
  // held, from whichever thread decodes: it must return quickly.
  std::function<void(const Manifest& manifest, const StreamDamage& damage)> on_chunk_damage;
};

class ObjectStream {
 public:
  // `found` is LocateName's answer. Opens the chunk files (problems are
  // reported through on_damage, not returned); fails only when no backend
  // can be made for the object's code.
  static Status Open(const Store& store, const Located& found, const ObjectStreamOptions& opt,
                     std::unique_ptr<ObjectStream>* out);
  ~ObjectStream();
  ObjectStream(const ObjectStream&) = delete;
  ObjectStream& operator=(const ObjectStream&) = delete;

  // The name's bytes.
  std::uint64_t size() const { return size_; }
  // Copies up to `n` bytes at `offset` to `dst`; *got is short only at the
  // end. Unrecoverable (naming the stripe and chunks) when a stripe the read
  // touches cannot be rebuilt; IOError when a chunk cannot be read.
  Status Read(std::uint64_t offset, std::size_t n, std::uint8_t* dst, std::size_t* got);

 private:
  struct Impl;
  explicit ObjectStream(std::unique_ptr<Impl> impl, std::uint64_t size);
  std::unique_ptr<Impl> impl_;
  std::uint64_t size_;
};

}  // namespace fls
