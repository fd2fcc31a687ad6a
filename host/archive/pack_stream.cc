// PackStream (host/archive/pack_stream.h).
#include "pack_stream.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace fls::internal {
namespace {

// The index's length when every number takes its widest form: what the
// stream reserves before the members' modes, mtimes and digests are known.
std::size_t WidestIndexBytes(const std::vector<PackEntry>& entries) {
  std::vector<PackEntry> widest = entries;
  for (PackEntry& e : widest) {
    e.sha256.assign(64, '0');
    e.mode = 07777;
    e.mtime_ns = std::numeric_limits<std::int64_t>::min();
  }
  return EncodePackTail(widest).size() - 16;
}

}  // namespace

PackStream::PackStream(OpenSourceFn open, std::vector<PackInput> inputs, std::string display_name)
    : open_(std::move(open)), display_(std::move(display_name)) {
  std::vector<PackEntry> listed;
  for (PackInput& in : inputs) {
    Member mb;
    mb.entry.name = in.name;
    mb.entry.offset = data_bytes_;
    mb.entry.length = in.size;
    data_bytes_ += in.size;
    mb.input = std::move(in);
    listed.push_back(mb.entry);
    members_.push_back(std::move(mb));
  }
  index_reserve_ = WidestIndexBytes(listed);
  size_ = data_bytes_ + index_reserve_ + 16;
}

void PackStream::FailMember(Member& mb, const Status& why) const {
  if (mb.status.ok()) mb.status = why.WithContext(mb.input.source);
  mb.file.reset();
}

void PackStream::StartMember(Member& mb) const {
  mb.started = true;
  FileInfo info;
  Status s = open_(mb.input.source, &mb.file, &info);
  if (s.ok() && info.size != mb.input.size)
    s = Status::IOError("changed while being archived: " + std::to_string(info.size) +
                        " bytes, listed with " + std::to_string(mb.input.size));
  if (!s.ok()) return FailMember(mb, s);
  mb.entry.mode = info.mode;
  mb.entry.mtime_ns = info.mtime_ns;
}

void PackStream::FinishMember(Member& mb) const {
  mb.finished = true;
  if (!mb.status.ok()) return;
  // Grown since it was listed: what was packed is not the file any more.
  std::uint8_t probe;
  std::size_t got = 0;
  Status s = mb.file->Read(mb.input.size, 1, &probe, &got);
  if (s.ok() && got != 0) s = Status::IOError("changed while being archived: it grew");
  if (!s.ok()) return FailMember(mb, s);
  mb.entry.sha256 = mb.sha->FinishHex();
  mb.file.reset();
}

std::size_t PackStream::ReadMembers(std::uint8_t* out, std::size_t n) const {
  std::size_t done = 0;
  while (current_ < members_.size()) {
    Member& mb = members_[current_];
    const std::uint64_t end = mb.entry.offset + mb.entry.length;
    if (!mb.started) StartMember(mb);
    if (pos_ == end) {
      FinishMember(mb);
      ++current_;
      continue;
    }
    if (done == n) break;
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(n - done, end - pos_));
    std::size_t got = 0;
    if (mb.status.ok()) {
      Status s = mb.file->Read(pos_ - mb.entry.offset, want, out + done, &got);
      if (s.ok() && got == 0)
        s = Status::IOError("changed while being archived: it shrank to " +
                            std::to_string(pos_ - mb.entry.offset) + " bytes");
      if (!s.ok()) FailMember(mb, s);
    }
    if (!mb.status.ok()) {
      // A failed member's place stays, zero-filled: the offsets after it hold.
      std::memset(out + done, 0, want);
      got = want;
    } else {
      mb.sha->Update(out + done, got);
    }
    done += got;
    pos_ += got;
  }
  return done;
}

Status PackStream::Read(std::uint64_t offset, std::size_t n, void* buf, std::size_t* read) const {
  std::lock_guard<std::mutex> lock(mu_);
  *read = 0;
  if (offset != pos_)
    return Status::IOError(display_ + ": pack stream read at " + std::to_string(offset) +
                           ", expected " + std::to_string(pos_) + " (reads must be in order)");
  auto* out = static_cast<std::uint8_t*>(buf);
  std::size_t done = ReadMembers(out, n);
  if (pos_ >= data_bytes_ && current_ == members_.size()) {
    if (tail_.empty()) {
      std::vector<PackEntry> packed;
      for (const Member& mb : members_)
        if (mb.status.ok()) packed.push_back(mb.entry);
      tail_ = EncodePackTail(packed, index_reserve_);
      if (tail_.size() != index_reserve_ + 16)
        return Status::Internal(display_ + ": pack index of " + std::to_string(tail_.size()) +
                                " bytes does not fit the " + std::to_string(index_reserve_ + 16) +
                                " reserved");
    }
    const std::uint64_t at = pos_ - data_bytes_;
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(n - done, tail_.size() - at));
    std::memcpy(out + done, tail_.data() + at, take);
    done += take;
    pos_ += take;
  }
  *read = done;
  return Status::Ok();
}

}  // namespace fls::internal
