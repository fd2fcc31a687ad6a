// The "already archived?" quick check shared by single objects
// (ArchiveOpenFile) and packed files (ArchiveSmallFiles), as rsync does it:
// the same size, modification time and mode, or with `compare_checksum` the
// same SHA-256 (read through the open source, never by its path again).
// Thread-safety: a pure function of its arguments (reads `input`).
#pragma once

#include <cstdint>
#include <string>

#include "fls/env.h"
#include "fls/status.h"

namespace fls::internal {

struct ArchivedContent {
  std::string name;  // the object name, for the message
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::uint32_t mode = 0;
  std::string sha256;
  std::string where;  // e.g. "; it is packed in fls-pack/..." for a packed file
};

// Ok when `input` is what was archived; InvalidArgument naming what differs
// ("archive it under another --name") otherwise.
Status QuickCheck(const RandomAccessFile& input, const FileInfo& info, bool compare_checksum,
                  const ArchivedContent& archived);

}  // namespace fls::internal
