// Internal pieces shared by archive, restore, verify and repair: creating a
// backend for a manifest, buffered chunk writing, and reading stripe batches
// of an object's chunks with every block's CRC checked.
// Thread-safety: each object is used by one pipeline stage at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fls/archive.h"
#include "fls/backend.h"
#include "fls/chunk_format.h"
#include "fls/env.h"
#include "fls/geometry.h"
#include "fls/manifest.h"
#include "fls/store.h"

namespace fls::internal {

// Stripes per pipeline slot: about 8 MiB of data per batch, at least one.
std::size_t StripesPerBatch(std::uint64_t stripe_width, std::uint64_t stripes);
inline constexpr int kPipelineSlots = 4;

// Appends to a chunk (or output) file through a small buffer, keeping the
// CRC32C and size of everything written. Large pieces bypass the buffer.
class BufferedAppender {
 public:
  explicit BufferedAppender(std::unique_ptr<WritableFile> file, bool track_crc = true);
  Status Append(const void* data, std::size_t n);
  Status Flush();
  // Flush + fsync + close.
  Status SyncAndClose();
  // Flush, then the file's mode and mtime (WritableFile::SetModeAndTime).
  Status SetModeAndTime(std::uint32_t mode, std::int64_t mtime_ns);
  std::uint32_t crc() const { return crc_; }
  std::uint64_t bytes() const { return bytes_; }
  const std::string& path() const { return file_->path(); }

 private:
  std::unique_ptr<WritableFile> file_;
  bool track_crc_;
  std::vector<std::uint8_t> buf_;
  std::size_t used_ = 0;
  std::uint32_t crc_ = 0;
  std::uint64_t bytes_ = 0;
};

// Opens chunk file `file` of `target` with O_NOFOLLOW (Env::
// NewRandomAccessFileNoFollow): a chunk file that is a symbolic link (or a
// FIFO, a device) is refused, never followed, so a chunk read stays inside
// its target. `bytes` gets the size of the file opened.
Status OpenChunkFile(Env* env, const std::string& target, const std::string& file,
                     std::unique_ptr<RandomAccessFile>* f, std::uint64_t* bytes);

// One chunk file of an object as found on the store.
struct OpenedChunk {
  std::unique_ptr<RandomAccessFile> file;
  std::string path;
  bool usable = false;  // header matches the manifest
  std::uint64_t file_bytes = 0;
  ChunkReport report;
};

// A page-aligned byte buffer: the kernel copies into and out of the page
// cache much faster from aligned addresses than from odd ones.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t n);
  std::uint8_t* data() { return ptr_.get(); }
  const std::uint8_t* data() const { return ptr_.get(); }
  std::size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(std::uint8_t* p) const;
  };
  std::unique_ptr<std::uint8_t, Free> ptr_;
  std::size_t size_ = 0;
};

// A batch of stripes read from the chunks, all of one block size (`block`:
// the last stripe of an object may have a smaller one than the rest, so it is
// read in a batch of its own; StripeGeometry::uniform_run). Chunk i's record
// (block + CRC) of stripe first + s lies at buf[i] + s * stride. Large blocks
// are read one record at a time into page-aligned slots (stride rounded up to
// 4 KiB); small ones in one read (stride = block + 4). Shard pointers are
// null for blocks that are missing or fail their CRC.
//
// A batch prepared without `keep_data` only checks: each chunk's records pass
// through one small slot (about 1 MiB, so it stays in the CPU cache while its
// CRCs are computed), shards stay null and `reason` alone says which blocks
// are good. A verify that does not recompute parity needs nothing more, and
// reading that way costs about what a plain sequential read of the files does.
struct StripeBatch {
  std::uint64_t first = 0;
  std::size_t stripes = 0;
  std::size_t block = 0;       // block bytes of these stripes
  std::size_t stride = 0;      // for `block`
  std::size_t max_stride = 0;  // what buf was sized for (the full block's stride)
  bool keep_data = true;
  std::size_t slot_records = 0;             // records buf[i] holds
  std::vector<AlignedBuffer> buf;           // k + m, each slot_records * stride
  std::vector<const std::uint8_t*> shards;  // stripes * (k + m)
  std::vector<std::uint8_t> reason;         // stripes * (k + m): why a block is bad
  std::vector<bool> loaded;                 // chunk i read for this batch
  std::vector<std::size_t> got;             // record bytes of chunk i read (in order)
  // stripes * (k + m): CRC32C of each block read, so that whole-chunk checks
  // combine them instead of reading the bytes again.
  std::vector<std::uint32_t> block_crc;
};

enum BadReason : std::uint8_t {
  kGood = 0,
  kNotRead,
  kChunkUnusable,
  kShortRead,
  kCrcMismatch,
  kReadError,
  kParityMismatch
};
const char* BadReasonName(std::uint8_t r);

class ObjectReader {
 public:
  ObjectReader(const Store& store, const Manifest& manifest);
  // Opens every chunk and checks its header against the manifest. Problems
  // are recorded in the chunk reports, never returned.
  void Open();
  // Treats the chunks that `reports` (a verify's) found kBadChecksum as
  // unusable: their blocks pass their CRCs but cannot be trusted.
  void Exclude(const std::vector<ChunkReport>& reports);
  const Manifest& manifest() const { return manifest_; }
  const StripeGeometry& geometry() const { return geometry_; }
  std::vector<OpenedChunk>& chunks() { return chunks_; }

  void Prepare(StripeBatch* batch, std::size_t capacity, bool keep_data = true) const;
  // Reads stripes [first, first + stripes), which must share one block size.
  // all = true: reads every chunk. Otherwise data chunks, then parity chunks
  // only while some stripe has fewer than k good blocks. Unrecoverable naming
  // the stripe and chunks when a stripe ends with fewer than k good blocks
  // (only when `fail_unrecoverable`).
  Status Read(StripeBatch* batch, std::uint64_t first, std::size_t stripes, bool all,
              bool fail_unrecoverable);

  // A human-readable account of stripe s's bad blocks in `batch`.
  std::string DescribeStripe(const StripeBatch& batch, std::size_t s) const;

 private:
  void LoadChunk(StripeBatch* batch, int i);
  const Store& store_;
  Manifest manifest_;
  StripeGeometry geometry_;
  std::vector<OpenedChunk> chunks_;
};

// A batch of stripes being decoded: what was read, the blocks rebuilt from
// parity, and where each data block now is.
struct DecodeSlot {
  StripeBatch batch;
  AlignedBuffer rebuilt;                  // capacity * m full blocks
  std::vector<const std::uint8_t*> data;  // stripes * k: where each data block is
  std::uint64_t full_block = 0;           // the object's B
  // Sized for `capacity` stripes of `reader`'s object.
  void Prepare(const ObjectReader& reader, std::size_t capacity);
};

// Points slot->data at every data block of the batch read, rebuilding the
// missing ones from parity (one Reconstruct call per pattern of missing
// blocks). `reconstructed` (optional) is increased by the stripes rebuilt.
Status RebuildDataBlocks(const Manifest& mf, Backend& backend, DecodeSlot* slot,
                         std::uint64_t* reconstructed);

// Reads the stripes [first, last] and hands the file's bytes in order to
// `sink` (clipped to [clip_begin, clip_end)). Reconstructs what is missing.
struct StreamStats {
  std::uint64_t stripes_reconstructed = 0;
};
Status StreamObject(ObjectReader& reader, Backend& backend, std::uint64_t clip_begin,
                    std::uint64_t clip_end,
                    const std::function<Status(const std::uint8_t*, std::size_t)>& hash_sink,
                    const std::function<Status(const std::uint8_t*, std::size_t)>& write_sink,
                    const ProgressFn& progress, StreamStats* stats);

}  // namespace fls::internal
