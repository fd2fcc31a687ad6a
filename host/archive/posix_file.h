// The POSIX objects behind the Env seam (fls/env.h): a WritableFile and a
// RandomAccessFile over an open descriptor, and the Directory that
// Env::OpenDirectory hands out, which resolves every name below its own
// descriptor through host/beneath.h.
// Thread-safety: as fls/env.h says for each kind of object.
#pragma once

#include <sys/stat.h>

#include <memory>
#include <string>

#include "fls/env.h"

namespace fls::internal {

// Each takes ownership of `fd`; `path` is for messages.
std::unique_ptr<WritableFile> NewPosixWritableFile(std::string path, int fd);
std::unique_ptr<RandomAccessFile> NewPosixRandomAccessFile(std::string path, int fd);
std::unique_ptr<Directory> NewPosixDirectory(std::string path, int fd);

void FillFileInfo(const struct stat& st, FileInfo* info);

}  // namespace fls::internal
