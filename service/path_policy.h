// PathPolicy: which file-system paths a client may name, checked at SUBMIT.
//
// A root (config roots.source / roots.output) is trusted as configured: it is
// resolved once, at start (symbolic links in the root's own path are
// followed), and a client may spell it either way. Below a root nothing is
// trusted: every name is looked up below the root's descriptor (fls/env.h
// Directory, host/beneath.h), following no symbolic link at all (not even
// one that points back inside), refusing ".." and anything but regular files
// and directories. The items a job gets are the root's resolved path plus the
// names found this way.
//
// These checks answer the client early and clearly; what keeps a job inside
// the roots is that the worker opens the same names the same way when the job
// runs (service/confined_io.h): a name swapped for a symbolic link between
// SUBMIT and the run fails there.
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

  // An existing file or directory under a source root, reached without a
  // symbolic link; `resolved` gets the root's resolved path + the rest.
  // InvalidArgument naming the path and why (a link on the way, a FIFO, a
  // file with several hard links, outside every root); NotFound when missing.
  Status ResolveSource(const std::string& path, std::string* resolved) const;
  // A path (existing or not) under an output root whose existing components
  // are directories, none a symbolic link; `resolved` as above.
  Status ResolveOutput(const std::string& path, std::string* resolved) const;

  // Expands `resolved` (from ResolveSource) into regular files, sorted. A
  // symbolic link, FIFO, socket or device file met in a directory is an
  // error naming it, so is a file with several hard links. Fails when more
  // than `max_files` would result.
  Status ExpandSource(const std::string& resolved, std::size_t max_files,
                      std::vector<std::string>* files) const;

  // The roots' resolved paths (what workers open, service/confined_io.h).
  std::vector<std::string> source_roots() const;
  std::vector<std::string> output_roots() const;

 private:
  struct Root {
    std::string configured;  // absolute, as written (lexically normal)
    std::string real;        // realpath at start
  };
  static Status Locate(const std::vector<Root>& roots, const std::string& path, const char* kind,
                       std::string* root, std::string* rel);
  std::vector<Root> sources_, outputs_;
};

// True when `path` equals `root` or lies below it (component-wise).
bool IsUnder(const std::string& path, const std::string& root);

// The longest of `roots` that `path` lies under, and the rest of `path`
// below it ("" for the root itself). False when none.
bool SplitUnderRoot(const std::vector<std::string>& roots, const std::string& path,
                    std::string* root, std::string* rel);

// InvalidArgument naming the first byte that is not UTF-8 or the first
// control character (0x00-0x1f, 0x7f) in `path`: control characters would
// forge log lines or drive terminals; a path that is not UTF-8 can name no
// object (fls/archive.h) and cannot travel in the protocol's JSON either.
Status CheckControlCharacters(const std::string& path);

}  // namespace fls::service
