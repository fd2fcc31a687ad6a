// PathPolicy: which file-system paths a client may name. Sources (files to
// archive) must resolve under a source root; restore outputs under an output
// root. Resolution follows every symlink (realpath), so a link that points out
// of the roots is rejected however it is spelled; ".." components are refused
// outright, before any resolution.
// Thread-safety: immutable after Create; safe from any thread.
#pragma once

#include <string>
#include <vector>

#include "fls/status.h"

namespace fls::service {

class PathPolicy {
 public:
  // Roots are resolved now; a root that does not exist is created for output
  // roots and is an error (naming it) for source roots.
  static Status Create(const std::vector<std::string>& source_roots,
                       const std::vector<std::string>& output_roots, PathPolicy* policy);

  // An existing file or directory under a source root; `resolved` gets its
  // real path. InvalidArgument naming the path and why otherwise.
  Status ResolveSource(const std::string& path, std::string* resolved) const;
  // A path (existing or not) under an output root, whose existing ancestors
  // resolve under that root too; `resolved` gets the resolved path.
  Status ResolveOutput(const std::string& path, std::string* resolved) const;

  // Expands `path` (a resolved source file or directory) into regular files,
  // sorted; symlinks inside directories are resolved and checked like sources.
  // Fails when more than `max_files` would result.
  Status ExpandSource(const std::string& resolved, std::size_t max_files,
                      std::vector<std::string>* files) const;

  const std::vector<std::string>& source_roots() const { return sources_; }
  const std::vector<std::string>& output_roots() const { return outputs_; }

 private:
  std::vector<std::string> sources_, outputs_;
};

// True when `path` equals `root` or lies below it (component-wise).
bool IsUnder(const std::string& path, const std::string& root);

}  // namespace fls::service
