// Manifest: the commit record of one archived object (JSON, docs/FORMAT.md).
// It names the object, its code parameters, where each chunk lives and the
// checksums that prove a restore right. An object exists exactly when a
// manifest for it can be read from some target; the newest generation wins.
//
// File names on a target:
//   fls-<id>.c<index>.chunk             chunk <index> (decimal) of object <id>
//   fls-<id>.g<generation>.manifest     a copy of generation <generation>
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

// The version written; DecodeManifest also reads version 1 (whose objects
// keep chunk format 1 through repairs and moves).
inline constexpr int kManifestFormatVersion = 2;

struct ManifestChunk {
  int index = 0;
  std::string target;  // the target directory holding the chunk file
  std::string domain;  // that target's failure domain when archived
  std::string file;    // file name inside `target`
  // Chunk format 2: CRC32C of the chunk's block data in stripe order (no
  // header, no block CRCs), so it changes with any block's bytes. Chunk
  // format 1: CRC32C of the whole chunk file (docs/FORMAT.md).
  std::uint32_t crc32c = 0;
  std::uint64_t bytes = 0;  // size of the whole chunk file

  std::string path() const;
};

struct Manifest {
  int format_version = kManifestFormatVersion;     // 1 or 2
  int chunk_format_version = kChunkFormatVersion;  // = format_version
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
  std::string sha256;                         // 64 lower-case hex digits
  std::vector<ManifestChunk> chunks;          // k + m, chunks[i].index == i
  std::vector<std::string> manifest_targets;  // where copies of this generation are

  // The chunk header every chunk of this object must carry (index 0).
  ChunkHeader HeaderFor(int index) const;
  // The object's stripes and chunk layout (chunk_format_version's rules).
  StripeGeometry geometry() const;
};

std::string ChunkFileName(const ObjectId& id, int index);
std::string ManifestFileName(const ObjectId& id, std::uint64_t generation);
// True for a name of the manifest form; fills id and generation.
bool ParseManifestFileName(std::string_view name, ObjectId* id, std::uint64_t* generation);
// True for a name of the chunk form (ChunkFileName's output); fills id and index.
bool ParseChunkFileName(std::string_view name, ObjectId* id, int* index);

// JSON text with a trailing "checksum" over the rest (see docs/FORMAT.md).
std::string EncodeManifest(const Manifest& m);
// Corruption naming the field at fault for malformed JSON, missing or
// mistyped fields, inconsistent parameters or a checksum mismatch.
Status DecodeManifest(std::string_view text, Manifest* m);

// Checks names and parameters agree (used by DecodeManifest and writers).
Status ValidateManifest(const Manifest& m);

}  // namespace fls
