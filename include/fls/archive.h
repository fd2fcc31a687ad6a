// Archive operations: store a file as k + m chunk files on a Store, and get
// it back (restore), check it (verify) and heal it (repair).
//
// Every operation streams: a few stripe batches are in flight at any time
// (bounded memory whatever the file size), and reading, hashing, coding and
// writing run on separate threads that overlap.
//
//   archive:  read file -> SHA-256 -> Encode (+ block CRCs) -> chunk writers
//             -> fsync + rename + dir fsync each chunk -> manifest copies
//             (the commit point). Any failure removes what it wrote.
//   restore:  read data chunks (block CRCs) -> parity only for stripes with
//             bad or missing data blocks -> Reconstruct -> SHA-256 -> write
//             a temporary beside the output -> fsync -> rename. No partial
//             output is left behind on any error.
//   verify:   every block CRC of every chunk, headers, whole-chunk CRCs and
//             manifest copies; deep also recomputes parity and the SHA-256.
//   repair:   rebuilds the chunks verify found bad onto healthy targets, then
//             commits a new manifest generation. Idempotent.
//
// Thread-safety: each call is independent; calls on the same object from
// several processes at once are not coordinated (last manifest wins).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fls/backend.h"
#include "fls/matrix.h"
#include "fls/status.h"
#include "fls/store.h"

namespace fls {

inline constexpr std::uint64_t kDefaultStripeWidth = 10u << 20;
inline constexpr std::size_t kMaxObjectNameBytes = 4096;

// An object name is non-empty valid UTF-8 of at most kMaxObjectNameBytes
// bytes without control characters (0x00-0x1F, 0x7F). InvalidArgument naming
// the fault and its byte offset otherwise (the name shown with odd bytes as
// \xNN). Every writer checks names with this before it writes anything.
Status ValidateObjectName(std::string_view name);
// Offset of the first byte of `s` that does not begin a well-formed UTF-8
// sequence (RFC 3629), or std::string_view::npos when all of `s` is UTF-8.
std::size_t FindInvalidUtf8(std::string_view s);

// done, total: bytes of the file processed so far.
using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

struct ArchiveOptions {
  int k = 10;
  int m = 4;
  MatrixKind matrix = MatrixKind::kCauchy;
  std::uint64_t stripe_width = kDefaultStripeWidth;  // rounded up to a multiple of k
  std::string backend = "auto";
  int threads = 0;   // backend worker threads; 0 = one per core
  std::string name;  // default: the file's base name
  bool allow_shared_targets = false;
  // When the name is archived already: compare SHA-256 digests (reads the
  // file) instead of size, mtime and mode.
  bool compare_checksum = false;
  ProgressFn progress;
  // A backend shared with other pipelines (the service's coalescing one,
  // fls/batching_backend.h); its codec must match k, m and matrix. When set,
  // `backend` and `threads` are ignored.
  std::shared_ptr<Backend> backend_instance;
  // Called once, from the pipeline's coding thread, after the last stripe
  // batch has been encoded (not called when the archive fails before that):
  // lets a coalescing backend stop waiting for this pipeline.
  std::function<void()> encode_done;
  // `fls upgrade` (fls/upgrade.h): this archive replaces the name's
  // path-addressed object (manifest version 1 or 2), and the caller found no
  // version 3 manifest file of the name on any target. No lookup by name is
  // made (it would list every target for the path-addressed object); once
  // committed, lookups by name find the new object.
  bool replaces_path_addressed = false;
  // The new object's id (default: a random one). Upgrade derives it from the
  // old object's, so that a rerun finds what a killed attempt left.
  std::optional<ObjectId> object_id;
  // 0, or the time (ns since the Unix epoch) before which `fls rm` refuses
  // to delete what this archive writes (--retain-until): recorded in the
  // object's manifest, or in each packed file's member record.
  std::int64_t retain_until_ns = 0;
};

struct ArchiveResult {
  Manifest manifest;
  // The name was archived already with this file's size, mtime and mode (or
  // SHA-256): nothing was written; `manifest` is the existing one.
  bool unchanged = false;
  int target_failures_tolerated = 0;
  int domain_failures_tolerated = 0;
  std::string backend;  // the backend that encoded
  // With unchanged: the name is a file packed in this pack (fls/pack.h);
  // `manifest` is the pack's, with the file's name, size, digest, mode, mtime.
  std::string packed_in;
};

// InvalidArgument for bad options, a bad name (ValidateObjectName) or a name
// archived already with other content; IOError/NoSpace naming the file or
// target that failed (nothing of the object remains). A name archived
// already with the same content is OK with result->unchanged.
Status ArchiveFile(const Store& store, const std::string& path, const ArchiveOptions& options,
                   ArchiveResult* result);
// The same for a file the caller has opened already (e.g. below a root's
// descriptor, fls/env.h Directory), with `info` from that open file: no name
// is resolved again. The default object name is the base name of
// source.path().
Status ArchiveOpenFile(const Store& store, const RandomAccessFile& source, const FileInfo& info,
                       const ArchiveOptions& options, ArchiveResult* result);

struct RestoreOptions {
  std::string output;  // the file to create (replaced atomically if it exists)
  // When set, `output` is a name in this directory, and every step (the
  // temporary, its rename over `output`, the directory fsync) goes through
  // its descriptor. Otherwise `output`'s directory is opened by path, symbolic
  // links and all, as for any path a user types. Either way an existing
  // `output` that is not a regular file (a directory, a symbolic link, a FIFO,
  // a device) is refused, never replaced.
  Directory* output_dir = nullptr;
  bool has_range = false;
  std::uint64_t offset = 0, length = 0;  // with has_range
  std::string backend = "auto";
  int threads = 0;
  ProgressFn progress;
  std::shared_ptr<Backend> backend_instance;  // as in ArchiveOptions
  // The object as the caller found it (e.g. during a catalogue walk), whose
  // manifest.name must be `name`: it is not looked up again.
  const CatalogEntry* entry = nullptr;
};

struct RestoreResult {
  std::uint64_t bytes = 0;
  std::uint64_t size = 0;  // of the whole object (or packed file)
  std::uint32_t mode = 0;  // as archived
  std::int64_t mtime_ns = 0;
  std::uint64_t stripes_reconstructed = 0;  // stripes that needed parity
  std::vector<std::string> problems;        // chunks found lost or damaged on the way
  bool sha256_checked = false;
};

// Unrecoverable naming the stripe and its bad chunks when a stripe has more
// than m bad blocks; Corruption when the SHA-256 differs; IOError for the
// output. On any error no output file exists afterwards (an existing file of
// that name is left as it was).
Status RestoreObject(const Store& store, const std::string& name, const RestoreOptions& options,
                     RestoreResult* result);

// Receives an object's bytes in order; a non-OK status stops the read.
using ByteSink = std::function<Status(const std::uint8_t* data, std::size_t n)>;
// The same read as RestoreObject (range, checks, reconstruction; options'
// output fields are ignored) into `sink` instead of a file. Bytes reach the
// sink as soon as their stripe passed its block CRCs (or was rebuilt); the
// whole object's SHA-256 is compared at the end, so on any error the caller
// must discard what the sink received (RestoreObject removes its temporary).
Status ReadObject(const Store& store, const std::string& name, const RestoreOptions& options,
                  const ByteSink& sink, RestoreResult* result);

enum class Health { kHealthy, kDegraded, kUnrecoverable };
const char* HealthName(Health h);

// Every block passes its CRC, but the chunk's checksum differs from the
// manifest's (blocks rewritten together with their CRCs): the chunk is not
// used at all, and repair rebuilds it.
inline constexpr char kBadChecksum[] = "bad-checksum";

struct ChunkReport {
  int index = 0;
  std::string path;
  std::string state = "ok";  // ok | missing | bad-header | wrong-object | wrong-index |
                             // wrong-parameters | truncated | damaged | unreadable |
                             // bad-checksum (kBadChecksum) |
                             // misplaced (good, but on another target than the
                             // manifest says: read from there; repair rebuilds
                             // it where placement allows)
  std::string detail;
  std::vector<std::uint64_t> bad_stripes;  // stripes whose block of this chunk is bad
};

struct ObjectReport {
  std::string name;
  std::string id;
  std::uint64_t size = 0;
  std::uint64_t generation = 0;
  Health health = Health::kHealthy;
  std::vector<ChunkReport> chunks;                   // k + m, by index
  std::vector<std::uint64_t> unrecoverable_stripes;  // more than m bad blocks
  int manifest_copies = 0;
  int manifest_copies_expected = 0;
  std::vector<std::string> notes;  // human-readable findings, one per problem
  bool deep = false;
};

struct VerifyOptions {
  bool deep = false;
  std::string backend = "auto";
  int threads = 0;
  ProgressFn progress;
};

// Fills `report`; returns a non-OK status only when the check itself could
// not run (bad backend). Damage is reported through report->health.
Status VerifyObject(const Store& store, const CatalogEntry& entry, const VerifyOptions& options,
                    ObjectReport* report);

// Headers, sizes and manifest copies only (no block is read): what `ls` and
// `info` show. Chunks that look fine here may still hold bad blocks.
void QuickCheckObject(const Store& store, const CatalogEntry& entry, ObjectReport* report);

struct RepairOptions {
  std::string backend = "auto";
  int threads = 0;
  ProgressFn progress;
};

struct RepairResult {
  ObjectReport before;
  std::vector<int> rebuilt;            // chunk indices written
  std::vector<std::string> new_paths;  // where they went, same order
  bool manifest_rewritten = false;
  std::uint64_t new_generation = 0;
};

// Unrecoverable when some stripe has more than m bad blocks (nothing is
// changed); IOError/NoSpace naming the target that failed.
Status RepairObject(const Store& store, const CatalogEntry& entry, const RepairOptions& options,
                    RepairResult* result);

// SHA-256 of `path` as 64 hex digits (OpenSSL EVP), for tests and tools.
Status Sha256File(Env* env, const std::string& path, std::string* hex);
// The same for a file already open.
Status Sha256OfFile(const RandomAccessFile& file, std::string* hex);

}  // namespace fls
