// MountTree: the directory tree `fls mount` shows, built from object names.
// A name's '/'-separated components are its path: `fls archive DIR` names a
// file "DIR's-name/sub/file" (as tar does), the service an item by its
// absolute path without the leading '/' (plus its name_prefix), so both
// appear where they came from. Directories exist only as prefixes of names.
// Pack objects ("fls-pack/...") are internal and are not shown; their
// members are, like any other file. A name that cannot be a path (an empty
// component, "." or "..") or that is also a prefix of another name (a file
// "a" and a file "a/b": the directory wins) is left out and reported.
//
// Thread-safety: none; the mount guards its tree with a lock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fls::cli {

struct MountFile {
  std::string name;  // the object name (or packed file's name)
  std::uint64_t size = 0;
  std::uint32_t mode = 0644;
  std::int64_t mtime_ns = 0;
};

struct MountNode {
  bool dir = false;
  MountFile file;                                              // files
  std::map<std::string, std::unique_ptr<MountNode>> children;  // directories
  std::int64_t mtime_ns = 0;  // directories: the newest mtime below
};

class MountTree {
 public:
  MountTree();
  // Adds `f` at the path its name forms. False (with `why`) when it cannot
  // be shown: pack objects, names that are no path, a name that is a
  // directory already. True when shown; `why` then may say which file it
  // hid (a file "a" when "a/b" comes). A name added again replaces the
  // earlier file.
  bool Add(const MountFile& f, std::string* why);
  // The node at `path` ("/" or "/a/b", as FUSE gives it), or null.
  const MountNode* Find(const std::string& path) const;
  std::size_t files() const { return files_; }

 private:
  std::unique_ptr<MountNode> root_;
  std::size_t files_ = 0;
};

// The path components of an object name; false when the name is no path.
bool NameComponents(const std::string& name, std::vector<std::string>* parts);

}  // namespace fls::cli
