// Manifest: the commit record of one archived object (JSON, docs/FORMAT.md).
// It names the object, its code parameters, where each chunk lives and the
// checksums that prove a restore right. An object exists exactly when a
// manifest for it can be read from some target; the newest generation wins.
//
// Format version 3 (what fls writes) is addressed by the object's name and
// names targets by their identity (fls-target.json), not by path:
//   fls-n<H>.manifest                   the manifest of the object whose name
//                                       hashes to H (NameHash: the first 16
//                                       bytes of SHA-256(name), 32 hex digits);
//                                       one fixed file per target, replaced
//                                       atomically by each new generation
// Versions 1 and 2 (still read, and rewritten in their own version by
// repairs) name targets by directory path and keep one file per generation:
//   fls-<id>.g<generation>.manifest     a copy of generation <generation>
// All name chunk files the same way:
//   fls-<id>.c<index>.chunk             chunk <index> (decimal) of object <id>
// <id> is the 32 lower-case hex digits of the 16-byte object id.
//
// Thread-safety: pure functions on values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fls/chunk_format.h"
#include "fls/matrix.h"
#include "fls/status.h"

namespace fls {

// The version fls writes: name-addressed, compact, targets by identity,
// with the last stripe's block size (chunk format 2). DecodeManifest also
// reads the path-addressed versions: 1 (chunk format 1) and 2 (chunk format
// 2, written by fls between layout v2's geometry and catalogue changes).
// Their objects keep their version through repairs and moves.
inline constexpr int kManifestFormatVersion = 3;
inline constexpr int kManifestFormatVersion1 = 1;
inline constexpr int kManifestFormatVersion2 = 2;

// Versions 1 and 2: one file per generation, targets named by directory.
inline bool IsPathAddressedManifest(int format_version) {
  return format_version < kManifestFormatVersion;
}

struct ManifestChunk {
  int index = 0;
  // The directory of the target holding the chunk file. Versions 1 and 2: as
  // written. Version 3: filled in by the Store from target_id when the
  // manifest is read; "" when no target of the store has that identity.
  std::string target;
  // That target's failure domain. Versions 1 and 2: as written; version 3:
  // the store's label for the target (not stored in the manifest).
  std::string domain;
  std::string file;  // file name inside `target`
  // Chunk format 2: CRC32C of the chunk's block data in stripe order (no
  // header, no block CRCs), so it changes with any block's bytes. Chunk
  // format 1: CRC32C of the whole chunk file (docs/FORMAT.md).
  std::uint32_t crc32c = 0;
  std::uint64_t bytes = 0;  // size of the whole chunk file
  // Version 3: the target's identity, 16 lower-case hex digits (what the
  // manifest stores). Versions 1 and 2: empty.
  std::string target_id;

  // target/file; "" when the target is unknown.
  std::string path() const;
};

struct Manifest {
  int format_version = kManifestFormatVersion;  // 1, 2 or 3
  // Version 1: 1; versions 2 and 3: 2 (kChunkFormatVersion).
  int chunk_format_version = kChunkFormatVersion;
  std::string name;
  ObjectId id{};
  std::uint64_t generation = 1;
  int k = 0, m = 0;
  MatrixKind matrix = MatrixKind::kCauchy;
  std::uint64_t stripe_width = 0, block_size = 0, stripes = 0;
  // The last stripe's block (format 2; 0 for an empty file). Version-1
  // manifests have no such field: it is block_size there.
  std::uint64_t last_block_size = 0;
  std::uint64_t size = 0;
  std::uint32_t mode = 0644;
  std::int64_t mtime_ns = 0;
  std::string sha256;                 // 64 lower-case hex digits
  std::vector<ManifestChunk> chunks;  // k + m, chunks[i].index == i
  // Where copies of this generation are: directories (versions 1 and 2:
  // as written; version 3: resolved like ManifestChunk::target, "" unknown).
  std::vector<std::string> manifest_targets;
  // Version 3: the identities of those targets (what the manifest stores).
  std::vector<std::string> manifest_target_ids;
  // Version 3, kind "tombstone": the object `name` (id `id`, k + m chunks)
  // was deleted at `deleted_ns`. A tombstone is a generation like any other
  // (the newest wins), so its first renamed copy is the delete's commit
  // point; it has no chunks, size or checksums (docs/FORMAT.md 3.6).
  bool tombstone = false;
  std::int64_t deleted_ns = 0;
  // Version 3 objects: 0, or the time (ns since the Unix epoch) before which
  // `fls rm` refuses to delete the object (the optional key retain_until_ns).
  std::int64_t retain_until_ns = 0;

  // The chunk header every chunk of this object must carry (index 0).
  ChunkHeader HeaderFor(int index) const;
  // The object's stripes and chunk layout (chunk_format_version's rules).
  StripeGeometry geometry() const;
};

std::string ChunkFileName(const ObjectId& id, int index);

// Version 3. 32 lower-case hex digits: the first 16 bytes of SHA-256 of the
// name's bytes.
std::string NameHash(std::string_view name);
// "fls-n" + NameHash(name) + ".manifest".
std::string NameManifestFileName(std::string_view name);
// True for a name of that form; fills the 32 hex digits of the hash.
bool ParseNameManifestFileName(std::string_view file, std::string* hash);
// The file name of `m`'s copies: version 3 by name, 1 and 2 by id and
// generation.
std::string ManifestFileNameOf(const Manifest& m);

// Version 1 and 2 file names.
std::string ManifestFileName(const ObjectId& id, std::uint64_t generation);
// True for a name of the version 1/2 manifest form; fills id and generation.
bool ParseManifestFileName(std::string_view name, ObjectId* id, std::uint64_t* generation);
// True for a name of the chunk form (ChunkFileName's output); fills id and index.
bool ParseChunkFileName(std::string_view name, ObjectId* id, int* index);

// JSON text with a "checksum" over the rest (see docs/FORMAT.md), in the
// form of m.format_version: version 3 compact (one 4 KiB block for a 10+4
// object with a name of up to 1 KiB), versions 1 and 2 indented.
std::string EncodeManifest(const Manifest& m);
// Any version. Corruption naming the field at fault for malformed JSON,
// a duplicate key, missing, mistyped or (version 3) unknown fields,
// inconsistent parameters or a checksum mismatch. Version 3 leaves
// ManifestChunk::target/domain and manifest_targets empty (the Store fills
// them in).
Status DecodeManifest(std::string_view text, Manifest* m);

// Checks names and parameters agree (used by DecodeManifest and writers).
Status ValidateManifest(const Manifest& m);

// True for a target identity as manifests store it: 16 lower-case hex digits.
bool IsTargetId(std::string_view id);

}  // namespace fls
