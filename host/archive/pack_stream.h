// PackStream: the bytes of a pack (fls/pack.h), produced while they are
// read, for ArchiveOpenFile. Each member file is opened when the reading
// reaches it, read once, hashed as it passes and closed; the index at the
// end is built from what was read. The size is known up front (the
// members' listed sizes, and room for the index with the widest values its
// fields can take), so the chunk headers are written first as usual.
//
// A member that cannot be opened or read, or whose size is not the listed
// one (changed while being archived), keeps its place in the pack as zero
// bytes and is left out of the index: its error is in status(i), and the
// other members are packed all the same.
//
// Thread-safety: reads must come in order (offset = the end of the last
// read), from one thread at a time; anything else fails the read.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fls/pack.h"
#include "fls/sha256.h"

namespace fls::internal {

class PackStream : public RandomAccessFile {
 public:
  PackStream(OpenSourceFn open, std::vector<PackInput> inputs, std::string display_name);

  std::uint64_t size() const { return size_; }
  Status Read(std::uint64_t offset, std::size_t n, void* buf, std::size_t* read) const override;
  const std::string& path() const override { return display_; }

  // After the whole stream was read: Ok and entry(i) filled (offset, length,
  // SHA-256, mode, mtime; pack left empty) for a packed member, else why not.
  const Status& status(std::size_t i) const { return members_[i].status; }
  const PackEntry& entry(std::size_t i) const { return members_[i].entry; }
  std::size_t members() const { return members_.size(); }

 private:
  struct Member {
    PackInput input;
    PackEntry entry;
    Status status;
    std::unique_ptr<RandomAccessFile> file;
    std::unique_ptr<Sha256> sha = std::make_unique<Sha256>();
    bool started = false, finished = false;
  };
  // Copies member bytes at pos_ (at most n) into out; opens and finishes
  // members on the way.
  std::size_t ReadMembers(std::uint8_t* out, std::size_t n) const;
  void StartMember(Member& mb) const;
  void FinishMember(Member& mb) const;
  void FailMember(Member& mb, const Status& why) const;

  OpenSourceFn open_;
  std::string display_;
  std::uint64_t data_bytes_ = 0, size_ = 0;
  std::size_t index_reserve_ = 0;
  mutable std::mutex mu_;
  mutable std::vector<Member> members_;
  mutable std::uint64_t pos_ = 0;
  mutable std::size_t current_ = 0;  // first member not finished
  mutable std::string tail_;         // the index, built when the data is read
};

}  // namespace fls::internal
