#include "object_io.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>

#include "fls/backend_registry.h"
#include "fls/crc32c.h"
#include "pipeline.h"

namespace fls::internal {

std::size_t StripesPerBatch(std::uint64_t stripe_width, std::uint64_t stripes) {
  const std::uint64_t target = 8u << 20;
  std::uint64_t n = std::max<std::uint64_t>(1, target / std::max<std::uint64_t>(1, stripe_width));
  n = std::min<std::uint64_t>(n, std::max<std::uint64_t>(1, stripes));
  return static_cast<std::size_t>(n);
}

BufferedAppender::BufferedAppender(std::unique_ptr<WritableFile> file, bool track_crc)
    : file_(std::move(file)), track_crc_(track_crc), buf_(256u << 10) {}

Status BufferedAppender::Append(const void* data, std::size_t n) {
  if (track_crc_) crc_ = Crc32c(data, n, crc_);
  bytes_ += n;
  if (used_ + n <= buf_.size()) {
    std::memcpy(buf_.data() + used_, data, n);
    used_ += n;
    return Status::Ok();
  }
  FLS_RETURN_IF_ERROR(Flush());
  if (n >= buf_.size() / 2) return file_->Append(data, n);
  std::memcpy(buf_.data(), data, n);
  used_ = n;
  return Status::Ok();
}

Status BufferedAppender::Flush() {
  if (used_ == 0) return Status::Ok();
  const std::size_t n = used_;
  used_ = 0;
  return file_->Append(buf_.data(), n);
}

Status BufferedAppender::SyncAndClose() {
  FLS_RETURN_IF_ERROR(Flush());
  FLS_RETURN_IF_ERROR(file_->Sync());
  return file_->Close();
}

Status BufferedAppender::SetModeAndTime(std::uint32_t mode, std::int64_t mtime_ns) {
  FLS_RETURN_IF_ERROR(Flush());
  return file_->SetModeAndTime(mode, mtime_ns);
}

Status OpenChunkFile(Env* env, const std::string& target, const std::string& file,
                     std::unique_ptr<RandomAccessFile>* f, std::uint64_t* bytes) {
  // The target directory is trusted; the manifest's file name has no '/'
  // (ValidateManifest), so the last component is the only one to guard.
  FileInfo info;
  FLS_RETURN_IF_ERROR(env->NewRandomAccessFileNoFollow(JoinPath(target, file), f, &info));
  if (bytes != nullptr) *bytes = info.size;
  return Status::Ok();
}

const char* BadReasonName(std::uint8_t r) {
  switch (r) {
    case kGood:
      return "good";
    case kNotRead:
      return "not read";
    case kChunkUnusable:
      return "chunk unusable";
    case kShortRead:
      return "truncated";
    case kCrcMismatch:
      return "CRC mismatch";
    case kReadError:
      return "read error";
    case kParityMismatch:
      return "parity mismatch";
  }
  return "?";
}

ObjectReader::ObjectReader(const Store& store, const Manifest& manifest)
    : store_(store), manifest_(manifest), geometry_(manifest.geometry()) {}

void ObjectReader::Open() {
  Env* env = store_.env();
  const int n = manifest_.k + manifest_.m;
  chunks_.clear();
  chunks_.resize(n);
  for (int i = 0; i < n; ++i) {
    OpenedChunk& c = chunks_[i];
    const ManifestChunk& mc = manifest_.chunks[i];
    c.report.index = i;
    c.path = mc.path();
    // A version 3 manifest may name a target this store does not have.
    Status s = c.path.empty() ? Status::NotFound("chunk " + std::to_string(i) + " is on target " +
                                                 mc.target_id + ", not one of the store's")
                              : OpenChunkFile(env, mc.target, mc.file, &c.file, &c.file_bytes);
    const std::string placed =
        c.path.empty() ? "unknown target " + mc.target_id + " (" + mc.file + ")" : c.path;
    if (s.code() == Status::Code::kNotFound) {
      // The chunk may have been moved to another target of the store.
      for (const Target& t : store_.targets()) {
        const std::string alt = JoinPath(t.path, mc.file);
        if (alt != placed && OpenChunkFile(env, t.path, mc.file, &c.file, &c.file_bytes).ok()) {
          c.path = alt;
          s = Status::Ok();
          break;
        }
      }
    }
    if (c.path.empty()) c.path = placed;
    c.report.path = c.path;
    if (!s.ok()) {
      c.report.state = s.code() == Status::Code::kNotFound ? "missing" : "unreadable";
      if (s.code() != Status::Code::kNotFound) c.report.detail = s.message();
      continue;
    }
    std::uint8_t header[kChunkHeaderBytes];
    std::size_t got = 0;
    s = c.file->Read(0, sizeof header, header, &got);
    if (!s.ok()) {
      c.report.state = "unreadable";
      c.report.detail = s.message();
      continue;
    }
    ChunkHeader h;
    s = DecodeChunkHeader(header, got, &h);
    if (!s.ok()) {
      c.report.state = "bad-header";
      c.report.detail = s.message();
      continue;
    }
    const ChunkHeader want = manifest_.HeaderFor(i);
    if (h.object_id != want.object_id) {
      c.report.state = "wrong-object";
      c.report.detail = "holds a chunk of object " + ObjectIdToHex(h.object_id) + ", not " +
                        ObjectIdToHex(want.object_id);
      continue;
    }
    if (h.chunk_index != want.chunk_index) {
      c.report.state = "wrong-index";
      c.report.detail =
          "holds chunk index " + std::to_string(h.chunk_index) + ", expected " + std::to_string(i);
      continue;
    }
    if (h.format_version != want.format_version || h.k != want.k || h.m != want.m ||
        h.matrix != want.matrix || h.block_size != want.block_size ||
        h.file_size != want.file_size || h.last_block_size != want.last_block_size) {
      c.report.state = "wrong-parameters";
      c.report.detail = "header parameters differ from the manifest";
      continue;
    }
    c.usable = true;
    const std::uint64_t expected = geometry_.chunk_file_bytes();
    if (c.file_bytes < expected) {
      c.report.state = "truncated";
      c.report.detail = std::to_string(c.file_bytes) + " of " + std::to_string(expected) + " bytes";
    } else if (c.file_bytes > expected) {
      c.report.state = "damaged";
      c.report.detail = "longer than expected (" + std::to_string(c.file_bytes) + " of " +
                        std::to_string(expected) + " bytes)";
    }
    if (c.report.state == "ok" && c.path != placed) {
      // Readable, but not where the manifest says: counted as damaged so that
      // a repair rebuilds it where placement allows and commits that; the
      // file found here is then a leftover the next repair sweep removes.
      c.report.state = "misplaced";
      c.report.detail = "found at " + c.path + "; the manifest places it at " + placed;
    }
  }
}

void ObjectReader::Exclude(const std::vector<ChunkReport>& reports) {
  for (const ChunkReport& r : reports) {
    if (r.state != kBadChecksum || r.index < 0 || r.index >= static_cast<int>(chunks_.size()))
      continue;
    OpenedChunk& c = chunks_[r.index];
    c.usable = false;
    c.report.state = r.state;
    c.report.detail = r.detail;
  }
}

AlignedBuffer::AlignedBuffer(std::size_t n) : size_(n) {
  void* p = nullptr;
  if (::posix_memalign(&p, 4096, std::max<std::size_t>(n, 1)) != 0) throw std::bad_alloc();
  ptr_.reset(static_cast<std::uint8_t*>(p));
}

void AlignedBuffer::Free::operator()(std::uint8_t* p) const { std::free(p); }

// Records of blocks this large are read one by one into aligned slots.
constexpr std::uint64_t kAlignedReadMinBlock = 64u << 10;

// A check-only batch passes each chunk through a slot of about this many bytes.
constexpr std::uint64_t kCheckSlotBytes = 1u << 20;

// Record stride in a batch buffer for blocks of `block` bytes.
std::size_t StrideFor(std::uint64_t block) {
  const std::uint64_t rec = block + kBlockCrcBytes;
  return static_cast<std::size_t>(block >= kAlignedReadMinBlock ? (rec + 4095) / 4096 * 4096 : rec);
}

void ObjectReader::Prepare(StripeBatch* b, std::size_t capacity, bool keep_data) const {
  const int n = manifest_.k + manifest_.m;
  // Sized for full blocks: a batch of the (smaller) last block fits too.
  b->block = geometry_.full_block();
  b->stride = b->max_stride = StrideFor(b->block);
  b->keep_data = keep_data;
  b->slot_records = keep_data
                        ? capacity
                        : static_cast<std::size_t>(std::clamp<std::uint64_t>(
                              kCheckSlotBytes / b->stride, 1, std::max<std::size_t>(capacity, 1)));
  b->buf.clear();
  // Without kept data every chunk shares one slot: chunks are read one after another.
  for (int i = 0; i < (keep_data ? n : 1); ++i) b->buf.emplace_back(b->slot_records * b->stride);
  b->shards.assign(capacity * n, nullptr);
  b->reason.assign(capacity * n, kNotRead);
  b->loaded.assign(n, false);
  b->got.assign(n, 0);
  b->block_crc.assign(capacity * n, 0);
}

void ObjectReader::LoadChunk(StripeBatch* b, int i) {
  const int n = manifest_.k + manifest_.m;
  const std::uint64_t rec = b->block + kBlockCrcBytes;
  b->loaded[i] = true;
  OpenedChunk& c = chunks_[i];
  if (!c.usable) {
    for (std::size_t s = 0; s < b->stripes; ++s) b->reason[s * n + i] = kChunkUnusable;
    return;
  }
  std::uint8_t* slot = b->buf[b->keep_data ? i : 0].data();
  std::size_t got = 0;  // record bytes read so far, in order
  Status st;
  bool at_end = false;
  // Pieces of up to slot_records stripes: the whole batch when data is kept,
  // else one slot's worth, checked while it is still in the cache.
  for (std::size_t p0 = 0; p0 < b->stripes; p0 += b->slot_records) {
    const std::size_t pn = std::min(b->slot_records, b->stripes - p0);
    std::uint8_t* base = b->keep_data ? slot + p0 * b->stride : slot;
    std::size_t piece_got = 0;
    if (st.ok() && !at_end) {
      if (b->stride == rec) {
        st = c.file->Read(geometry_.record_offset(b->first + p0), pn * rec, base, &piece_got);
      } else {
        for (std::size_t s = 0; s < pn && st.ok(); ++s) {
          std::size_t one = 0;
          st = c.file->Read(geometry_.record_offset(b->first + p0 + s), rec, base + s * b->stride,
                            &one);
          piece_got += one;
          if (one < rec) break;
        }
      }
      at_end = piece_got < pn * rec;
    }
    if (st.ok()) got += piece_got;
    for (std::size_t s = p0; s < p0 + pn; ++s) {
      std::uint8_t& why = b->reason[s * n + i];
      const std::uint8_t* block = base + (s - p0) * b->stride;
      if (!st.ok()) {
        why = kReadError;
      } else if ((s + 1) * rec > got) {
        why = kShortRead;
      } else {
        const std::uint32_t crc = Crc32c(block, b->block);
        b->block_crc[s * n + i] = crc;
        why = crc == GetLe32(block + b->block) ? kGood : kCrcMismatch;
      }
      if (why == kGood) {
        if (b->keep_data) b->shards[s * n + i] = block;
        continue;
      }
      c.report.bad_stripes.push_back(b->first + s);
      if (c.report.state == "ok") c.report.state = "damaged";
      if (why == kReadError && c.report.detail.empty()) c.report.detail = st.message();
    }
  }
  b->got[i] = st.ok() ? got : 0;
}

Status ObjectReader::Read(StripeBatch* b, std::uint64_t first, std::size_t stripes, bool all,
                          bool fail_unrecoverable) {
  const int k = manifest_.k, n = manifest_.k + manifest_.m;
  if (stripes == 0 || geometry_.uniform_run(first, stripes) != stripes)
    return Status::Internal("object '" + manifest_.name + "': stripes " + std::to_string(first) +
                            " + " + std::to_string(stripes) +
                            " are not one run of equal block size");
  b->first = first;
  b->stripes = stripes;
  b->block = geometry_.block_size(first);
  b->stride = StrideFor(b->block);
  std::fill(b->shards.begin(), b->shards.end(), nullptr);
  std::fill(b->reason.begin(), b->reason.end(), kNotRead);
  std::fill(b->loaded.begin(), b->loaded.end(), false);
  std::fill(b->got.begin(), b->got.end(), 0);
  for (int i = 0; i < (all ? n : k); ++i) LoadChunk(b, i);
  auto good = [&](std::size_t s) {
    int g = 0;
    for (int i = 0; i < n; ++i) g += b->reason[s * n + i] == kGood;
    return g;
  };
  for (int p = k; p < n && !all; ++p) {
    bool needed = false;
    for (std::size_t s = 0; s < stripes && !needed; ++s) needed = good(s) < k;
    if (!needed) break;
    LoadChunk(b, p);
  }
  if (fail_unrecoverable) {
    for (std::size_t s = 0; s < stripes; ++s)
      if (good(s) < k) return Status::Unrecoverable(DescribeStripe(*b, s));
  }
  return Status::Ok();
}

std::string ObjectReader::DescribeStripe(const StripeBatch& b, std::size_t s) const {
  const int k = manifest_.k, n = manifest_.k + manifest_.m;
  const std::uint64_t stripe = b.first + s;
  int bad = 0;
  std::string list;
  for (int i = 0; i < n; ++i) {
    const std::uint8_t why = b.reason[s * n + i];
    if (why == kGood || why == kNotRead) continue;
    ++bad;
    if (!list.empty()) list += ", ";
    list += "chunk " + std::to_string(i) + " (" + BadReasonName(why);
    if (why == kChunkUnusable) list += ": " + chunks_[i].report.state;
    list += " at " + chunks_[i].path + ")";
  }
  const std::uint64_t begin = geometry_.stripe_offset(stripe);
  const std::uint64_t end = begin + geometry_.stripe_bytes(stripe);
  return "object '" + manifest_.name + "' stripe " + std::to_string(stripe) + " (file bytes " +
         std::to_string(begin) + ".." + std::to_string(end) + ") has " + std::to_string(bad) +
         " bad or missing blocks, more than m = " + std::to_string(manifest_.m) +
         " can rebuild (only " + std::to_string(n - bad) + " of the " + std::to_string(k) +
         " needed remain): " + list;
}

void DecodeSlot::Prepare(const ObjectReader& reader, std::size_t capacity) {
  const Manifest& mf = reader.manifest();
  reader.Prepare(&batch, capacity);
  full_block = reader.geometry().full_block();
  rebuilt = AlignedBuffer(capacity * mf.m * full_block);
  data.resize(capacity * mf.k);
}

Status RebuildDataBlocks(const Manifest& mf, Backend& backend, DecodeSlot* slot,
                         std::uint64_t* reconstructed) {
  const int k = mf.k, m = mf.m, n = k + m;
  StripeBatch& b = slot->batch;
  const std::uint64_t B = slot->full_block;
  // Group the stripes by their set of missing data blocks: one Reconstruct
  // call per pattern.
  std::map<std::vector<int>, std::vector<std::size_t>> groups;
  for (std::size_t s = 0; s < b.stripes; ++s) {
    std::vector<int> missing;
    for (int j = 0; j < k; ++j) {
      slot->data[s * k + j] = b.shards[s * n + j];
      if (b.shards[s * n + j] == nullptr) missing.push_back(j);
    }
    if (!missing.empty()) groups[missing].push_back(s);
  }
  for (auto& [wanted, list] : groups) {
    std::vector<const std::uint8_t*> shards;
    std::vector<std::uint8_t*> outputs;
    for (std::size_t s : list) {
      for (int i = 0; i < n; ++i) shards.push_back(b.shards[s * n + i]);
      for (std::size_t w = 0; w < wanted.size(); ++w) {
        std::uint8_t* out = slot->rebuilt.data() + (s * m + w) * B;
        outputs.push_back(out);
        slot->data[s * k + wanted[w]] = out;
      }
    }
    ReconstructBatch rb;
    rb.stripes = list.size();
    rb.block_bytes = b.block;
    rb.shards = shards;
    rb.wanted = wanted;
    rb.outputs = outputs;
    Status st = backend.Reconstruct(rb);
    if (!st.ok()) return st.WithContext("reconstructing object '" + mf.name + "'");
    if (reconstructed) *reconstructed += list.size();
  }
  return Status::Ok();
}

Status StreamObject(ObjectReader& reader, Backend& backend, std::uint64_t clip_begin,
                    std::uint64_t clip_end,
                    const std::function<Status(const std::uint8_t*, std::size_t)>& hash_sink,
                    const std::function<Status(const std::uint8_t*, std::size_t)>& write_sink,
                    const ProgressFn& progress, StreamStats* stats) {
  const Manifest& mf = reader.manifest();
  const int k = mf.k;
  const StripeGeometry& g = reader.geometry();
  if (clip_end <= clip_begin) return Status::Ok();
  const std::uint64_t first = g.stripe_of(clip_begin), last = g.stripe_of(clip_end - 1);
  const std::size_t per = StripesPerBatch(g.stripe_width(), last - first + 1);
  std::vector<std::unique_ptr<DecodeSlot>> slots;
  for (int i = 0; i < kPipelineSlots; ++i) {
    auto s = std::make_unique<DecodeSlot>();
    s->Prepare(reader, per);
    slots.push_back(std::move(s));
  }
  std::uint64_t next = first;
  auto source = [&](DecodeSlot& slot, bool* produced) -> Status {
    if (next > last) {
      *produced = false;
      return Status::Ok();
    }
    const std::size_t count = static_cast<std::size_t>(
        g.uniform_run(next, std::min<std::uint64_t>(per, last - next + 1)));
    FLS_RETURN_IF_ERROR(reader.Read(&slot.batch, next, count, false, true));
    next += count;
    *produced = true;
    return Status::Ok();
  };
  std::uint64_t reconstructed = 0;
  auto rebuild = [&](DecodeSlot& slot) -> Status {
    return RebuildDataBlocks(mf, backend, &slot, &reconstructed);
  };
  // Visits the file bytes of the slot in order, clipped.
  auto visit = [&](DecodeSlot& slot,
                   const std::function<Status(const std::uint8_t*, std::size_t)>& fn) -> Status {
    const StripeBatch& b = slot.batch;
    for (std::size_t s = 0; s < b.stripes; ++s) {
      for (int j = 0; j < k; ++j) {
        const ByteRange r = g.data_block_range(b.first + s, j);
        const std::uint64_t lo = std::max(r.begin, clip_begin);
        const std::uint64_t hi = std::min(r.end, clip_end);
        if (lo >= hi) continue;
        FLS_RETURN_IF_ERROR(fn(slot.data[s * k + j] + (lo - r.begin), hi - lo));
      }
    }
    return Status::Ok();
  };
  std::uint64_t written = 0;
  std::vector<StagePipeline<DecodeSlot>::StageFn> stages;
  stages.push_back(rebuild);
  if (hash_sink) stages.push_back([&](DecodeSlot& slot) { return visit(slot, hash_sink); });
  stages.push_back([&](DecodeSlot& slot) -> Status {
    if (write_sink) FLS_RETURN_IF_ERROR(visit(slot, write_sink));
    const std::uint64_t end =
        std::min(clip_end, g.stripe_offset(slot.batch.first + slot.batch.stripes));
    written = end - clip_begin;
    if (progress) progress(written, clip_end - clip_begin);
    return Status::Ok();
  });
  FLS_RETURN_IF_ERROR(StagePipeline<DecodeSlot>::Run(slots, source, stages));
  if (stats) stats->stripes_reconstructed = reconstructed;
  return Status::Ok();
}

}  // namespace fls::internal
