// PosixWritableFile and PosixRandomAccessFile (posix_file.h).
#include "posix_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace fls::internal {
namespace {

// The most one write() hands the kernel. Linux (6.x) sizes the page-cache
// folio of a buffered write by the write's length: one 1 MiB write at a
// 1 MiB-aligned offset gets one 1 MiB folio, and large folios come from
// large free blocks. A VM with free page reporting (virtio-balloon, as on the
// team's Firecracker VMs) hands every such block back to the host as soon as
// it is free, so each first touch of a large folio faults in the host: 1 MiB
// writes cost about 4 times the system time of 64 KiB ones there, and a
// healthy restore ran at 3 to 4 times `cp` (docs/BENCHMARKS.md). 64 KiB is
// what cp writes (copy_file_range through a 64 KiB pipe).
constexpr std::size_t kMaxWriteBytes = 64u << 10;

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Append(const void* data, std::size_t n) override {
    if (fd_ < 0) return Status::IOError("write " + path_ + ": file is closed");
    const auto* p = static_cast<const std::uint8_t*>(data);
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, std::min(n, kMaxWriteBytes));
      if (w < 0) {
        if (errno == EINTR) continue;
        return PosixError("write", path_, errno);
      }
      if (w == 0) return Status::IOError("write " + path_ + ": wrote 0 bytes");
      p += w;
      n -= static_cast<std::size_t>(w);
      written_ += static_cast<std::uint64_t>(w);
    }
    // Start writeback of every full 8 MiB behind us without waiting for it:
    // the disk works while we compute, so the final fsync has little left to
    // do. Durability still comes only from Sync().
    constexpr std::uint64_t kWritebackChunk = 8u << 20;
    if (written_ - writeback_start_ >= kWritebackChunk) {
      const std::uint64_t len = (written_ - writeback_start_) / kWritebackChunk * kWritebackChunk;
      ::sync_file_range(fd_, static_cast<off_t>(writeback_start_), static_cast<off_t>(len),
                        SYNC_FILE_RANGE_WRITE);
      writeback_start_ += len;
    }
    return Status::Ok();
  }
  Status Sync() override {
    if (fd_ < 0) return Status::IOError("fsync " + path_ + ": file is closed");
    if (::fdatasync(fd_) != 0) return PosixError("fsync", path_, errno);
    return Status::Ok();
  }
  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return PosixError("close", path_, errno);
    return Status::Ok();
  }
  Status SetModeAndTime(std::uint32_t mode, std::int64_t mtime_ns) override {
    if (fd_ < 0) return Status::IOError("chmod " + path_ + ": file is closed");
    if (::fchmod(fd_, mode & 07777) != 0) return PosixError("chmod", path_, errno);
    struct timespec times[2];
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;
    times[1].tv_sec = mtime_ns / 1000000000;
    times[1].tv_nsec = mtime_ns % 1000000000;
    if (::futimens(fd_, times) != 0) return PosixError("futimens", path_, errno);
    return Status::Ok();
  }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
  std::uint64_t written_ = 0, writeback_start_ = 0;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }
  Status Read(std::uint64_t offset, std::size_t n, void* buf, std::size_t* read) const override {
    auto* p = static_cast<std::uint8_t*>(buf);
    std::size_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0) {
        if (errno == EINTR) continue;
        return PosixError("read", path_, errno);
      }
      if (r == 0) break;
      done += static_cast<std::size_t>(r);
    }
    *read = done;
    return Status::Ok();
  }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
};

}  // namespace

std::unique_ptr<WritableFile> NewPosixWritableFile(std::string path, int fd) {
  return std::make_unique<PosixWritableFile>(std::move(path), fd);
}

std::unique_ptr<RandomAccessFile> NewPosixRandomAccessFile(std::string path, int fd) {
  return std::make_unique<PosixRandomAccessFile>(std::move(path), fd);
}

void FillFileInfo(const struct stat& st, FileInfo* info) {
  info->size = static_cast<std::uint64_t>(st.st_size);
  info->mode = st.st_mode & 07777;
  info->mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  info->is_directory = S_ISDIR(st.st_mode);
  info->links = static_cast<std::uint64_t>(st.st_nlink);
  info->allocated = static_cast<std::uint64_t>(st.st_blocks) * 512;
  info->device = static_cast<std::uint64_t>(st.st_dev);
  if (S_ISREG(st.st_mode))
    info->type = FileType::kRegular;
  else if (S_ISDIR(st.st_mode))
    info->type = FileType::kDirectory;
  else if (S_ISLNK(st.st_mode))
    info->type = FileType::kSymlink;
  else if (S_ISFIFO(st.st_mode))
    info->type = FileType::kFifo;
  else if (S_ISSOCK(st.st_mode))
    info->type = FileType::kSocket;
  else if (S_ISCHR(st.st_mode))
    info->type = FileType::kCharDevice;
  else
    info->type = FileType::kBlockDevice;
}

}  // namespace fls::internal
