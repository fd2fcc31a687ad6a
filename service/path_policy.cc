#include "path_policy.h"

#include "fls/archive.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace fls::service {
namespace fs = std::filesystem;
namespace {

Status RealPath(const std::string& path, std::string* out) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf))
    return Status::NotFound("'" + path + "': " + std::strerror(errno));
  *out = buf;
  return Status::Ok();
}

// Control characters in a name would reach logs, `fls ls` and terminals
// as-is (a newline forges a log line, an escape sequence drives a terminal).
// A path that is not UTF-8 can name no object (fls/archive.h) and cannot
// travel in the protocol's JSON either.
Status CheckControlCharacters(const std::string& path) {
  const std::size_t bad = FindInvalidUtf8(path);
  if (bad != std::string::npos)
    return Status::InvalidArgument("path '" + path.substr(0, bad) +
                                   "...' is not valid UTF-8 at byte " + std::to_string(bad) +
                                   " (object names are UTF-8)");
  for (std::size_t i = 0; i < path.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(path[i]);
    if (c < 0x20 || c == 0x7f) {
      char code[8];
      std::snprintf(code, sizeof code, "0x%02x", c);
      return Status::InvalidArgument("path '" + path.substr(0, i) +
                                     "...' contains the control character " + code + " at byte " +
                                     std::to_string(i));
    }
  }
  return Status::Ok();
}

// A second hard link inside a root can make a file from outside the roots
// (same filesystem) readable through a path inside them; realpath cannot see
// it, so files with more than one link are refused.
Status CheckSingleLink(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return Status::NotFound("'" + path + "': " + std::strerror(errno));
  if (S_ISREG(st.st_mode) && st.st_nlink > 1)
    return Status::InvalidArgument("'" + path + "' has " + std::to_string(st.st_nlink) +
                                   " hard links; files with several links are refused (one of "
                                   "them may lie outside the source roots)");
  return Status::Ok();
}

Status CheckLexical(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("empty path");
  if (path.find('\0') != std::string::npos)
    return Status::InvalidArgument("path contains a NUL byte");
  FLS_RETURN_IF_ERROR(CheckControlCharacters(path));
  if (path[0] != '/')
    return Status::InvalidArgument("'" + path + "' is not absolute (clients send absolute paths)");
  for (const auto& part : fs::path(path))
    if (part == "..") return Status::InvalidArgument("'" + path + "' contains a '..' component");
  return Status::Ok();
}

}  // namespace

bool IsUnder(const std::string& path, const std::string& root) {
  if (root == "/") return !path.empty() && path[0] == '/';
  if (path.size() < root.size() || path.compare(0, root.size(), root) != 0) return false;
  return path.size() == root.size() || path[root.size()] == '/';
}

Status PathPolicy::Create(const std::vector<std::string>& source_roots,
                          const std::vector<std::string>& output_roots, PathPolicy* policy) {
  PathPolicy p;
  for (const auto& r : source_roots) {
    std::string real;
    Status s = RealPath(r, &real);
    if (!s.ok()) return Status::InvalidArgument("source root " + s.message());
    p.sources_.push_back(real);
  }
  for (const auto& r : output_roots) {
    std::error_code ec;
    fs::create_directories(r, ec);
    std::string real;
    Status s = RealPath(r, &real);
    if (!s.ok()) return Status::InvalidArgument("output root " + s.message());
    p.outputs_.push_back(real);
  }
  *policy = std::move(p);
  return Status::Ok();
}

Status PathPolicy::ResolveSource(const std::string& path, std::string* resolved) const {
  FLS_RETURN_IF_ERROR(CheckLexical(path));
  std::string real;
  FLS_RETURN_IF_ERROR(RealPath(path, &real));
  for (const auto& root : sources_)
    if (IsUnder(real, root)) {
      FLS_RETURN_IF_ERROR(CheckControlCharacters(real));
      FLS_RETURN_IF_ERROR(CheckSingleLink(real));
      *resolved = real;
      return Status::Ok();
    }
  return Status::InvalidArgument("'" + path + "' resolves to '" + real +
                                 "', which is outside every source root");
}

Status PathPolicy::ResolveOutput(const std::string& path, std::string* resolved) const {
  FLS_RETURN_IF_ERROR(CheckLexical(path));
  // Resolve the deepest existing ancestor, then append the missing rest.
  fs::path p(path);
  fs::path rest;
  std::string real;
  while (true) {
    std::error_code ec;
    if (fs::symlink_status(p, ec).type() != fs::file_type::not_found && !ec) {
      FLS_RETURN_IF_ERROR(RealPath(p.string(), &real));
      break;
    }
    if (!p.has_relative_path())
      return Status::InvalidArgument("'" + path + "': no existing ancestor");
    rest = p.filename() / rest;
    p = p.parent_path();
  }
  std::string full = (fs::path(real) / rest).lexically_normal().string();
  while (full.size() > 1 && full.back() == '/') full.pop_back();
  for (const auto& root : outputs_)
    if (IsUnder(full, root)) {
      *resolved = full;
      return Status::Ok();
    }
  return Status::InvalidArgument("'" + path + "' resolves to '" + full +
                                 "', which is outside every output root");
}

Status PathPolicy::ExpandSource(const std::string& resolved, std::size_t max_files,
                                std::vector<std::string>* files) const {
  std::error_code ec;
  const fs::file_status st = fs::status(resolved, ec);
  if (ec) return Status::NotFound("'" + resolved + "': " + ec.message());
  if (fs::is_regular_file(st)) {
    files->push_back(resolved);
  } else if (fs::is_directory(st)) {
    std::vector<std::string> found;
    fs::recursive_directory_iterator it(resolved, fs::directory_options::none, ec), end;
    if (ec) return Status::IOError("cannot list '" + resolved + "': " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) return Status::IOError("cannot list '" + resolved + "': " + ec.message());
      const fs::directory_entry& e = *it;
      if (e.is_symlink()) {
        // Never follow a link out of the roots, nor into a directory loop.
        std::string target;
        FLS_RETURN_IF_ERROR(ResolveSource(e.path().string(), &target));
        if (fs::is_regular_file(target)) found.push_back(target);
        continue;
      }
      if (e.is_regular_file()) {
        const std::string f = e.path().string();
        FLS_RETURN_IF_ERROR(CheckControlCharacters(f));
        if (e.hard_link_count(ec) > 1 || ec) FLS_RETURN_IF_ERROR(CheckSingleLink(f));
        found.push_back(f);
      }
      if (files->size() + found.size() > max_files) break;
    }
    std::sort(found.begin(), found.end());
    files->insert(files->end(), found.begin(), found.end());
  } else {
    return Status::InvalidArgument("'" + resolved + "' is neither a regular file nor a directory");
  }
  if (files->size() > max_files)
    return Status::InvalidArgument("more than " + std::to_string(max_files) +
                                   " files in one job (service.max_files_per_job)");
  return Status::Ok();
}

}  // namespace fls::service
