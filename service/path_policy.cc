#include "path_policy.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "fls/archive.h"
#include "fls/env.h"
#include "confined_io.h"

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

// Directory trees deeper than this are refused rather than walked (each
// level holds a descriptor while its children are listed).
constexpr int kMaxDepth = 128;

// Appends the regular files below `dir` (whose path is `path`) to `found`.
Status Expand(Directory* dir, const std::string& path, int depth, std::size_t max_files,
              std::vector<std::string>* found) {
  if (depth > kMaxDepth)
    return Status::InvalidArgument("'" + path + "' is more than " + std::to_string(kMaxDepth) +
                                   " directories deep");
  std::vector<std::string> names;
  FLS_RETURN_IF_ERROR(dir->GetChildren(&names));
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string child = JoinPath(path, name);
    FLS_RETURN_IF_ERROR(CheckControlCharacters(child));
    FileInfo info;
    Status s = dir->GetFileInfo(name, &info);
    if (s.code() == Status::Code::kNotFound) continue;  // removed while listing
    FLS_RETURN_IF_ERROR(s);
    if (info.type == FileType::kDirectory) {
      std::unique_ptr<Directory> sub;
      FLS_RETURN_IF_ERROR(dir->OpenDirectory(name, false, &sub));
      FLS_RETURN_IF_ERROR(Expand(sub.get(), child, depth + 1, max_files, found));
    } else {
      FLS_RETURN_IF_ERROR(CheckSourceFile(child, info));
      found->push_back(child);
    }
    if (found->size() > max_files) return Status::Ok();
  }
  return Status::Ok();
}

}  // namespace

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

bool IsUnder(const std::string& path, const std::string& root) {
  if (root == "/") return !path.empty() && path[0] == '/';
  if (path.size() < root.size() || path.compare(0, root.size(), root) != 0) return false;
  return path.size() == root.size() || path[root.size()] == '/';
}

bool SplitUnderRoot(const std::vector<std::string>& roots, const std::string& path,
                    std::string* root, std::string* rel) {
  const std::string* best = nullptr;
  for (const auto& r : roots)
    if (IsUnder(path, r) && (best == nullptr || r.size() > best->size())) best = &r;
  if (best == nullptr) return false;
  *root = *best;
  std::size_t i = best->size();
  while (i < path.size() && path[i] == '/') ++i;
  *rel = path.substr(i);
  return true;
}

Status PathPolicy::Create(const std::vector<std::string>& source_roots,
                          const std::vector<std::string>& output_roots, PathPolicy* policy) {
  PathPolicy p;
  auto add = [](const std::string& r, const char* kind, std::vector<Root>* out) -> Status {
    Root root;
    FLS_RETURN_IF_ERROR(RealPath(r, &root.real).WithContext(std::string(kind) + " root"));
    root.configured = fs::absolute(r).lexically_normal().string();
    while (root.configured.size() > 1 && root.configured.back() == '/') root.configured.pop_back();
    out->push_back(std::move(root));
    return Status::Ok();
  };
  for (const auto& r : source_roots) {
    Status s = add(r, "source", &p.sources_);
    if (!s.ok()) return Status::InvalidArgument(s.message());
  }
  for (const auto& r : output_roots) {
    std::error_code ec;
    fs::create_directories(r, ec);
    Status s = add(r, "output", &p.outputs_);
    if (!s.ok()) return Status::InvalidArgument(s.message());
  }
  *policy = std::move(p);
  return Status::Ok();
}

std::vector<std::string> PathPolicy::source_roots() const {
  std::vector<std::string> out;
  for (const auto& r : sources_) out.push_back(r.real);
  return out;
}

std::vector<std::string> PathPolicy::output_roots() const {
  std::vector<std::string> out;
  for (const auto& r : outputs_) out.push_back(r.real);
  return out;
}

Status PathPolicy::Locate(const std::vector<Root>& roots, const std::string& path, const char* kind,
                          std::string* root, std::string* rel) {
  FLS_RETURN_IF_ERROR(CheckLexical(path));
  // Either spelling of a root will do; the longest match wins (nested roots).
  std::size_t best_len = 0;
  bool found = false;
  for (const auto& r : roots)
    for (const std::string* spelling : {&r.configured, &r.real})
      if (IsUnder(path, *spelling) && (!found || spelling->size() > best_len)) {
        found = true;
        best_len = spelling->size();
        *root = r.real;
        std::size_t i = spelling->size();
        while (i < path.size() && path[i] == '/') ++i;
        *rel = path.substr(i);
      }
  if (!found) return Status::InvalidArgument("'" + path + "' is outside every " + kind + " root");
  // "a//b/./c" -> "a/b/c": the items of a job are spelled one way.
  std::string clean;
  for (const auto& part : fs::path(*rel)) {
    const std::string p = part.string();
    if (p.empty() || p == "." || p == "/") continue;
    clean = clean.empty() ? p : clean + "/" + p;
  }
  *rel = clean;
  return Status::Ok();
}

Status PathPolicy::ResolveSource(const std::string& path, std::string* resolved) const {
  std::string root, rel;
  FLS_RETURN_IF_ERROR(Locate(sources_, path, "source", &root, &rel));
  std::unique_ptr<Directory> dir;
  FLS_RETURN_IF_ERROR(Env::Default()->OpenDirectory(root, &dir));
  FileInfo info;
  FLS_RETURN_IF_ERROR(dir->GetFileInfo(rel, &info));
  const std::string full = rel.empty() ? root : JoinPath(root, rel);
  if (info.type != FileType::kDirectory) FLS_RETURN_IF_ERROR(CheckSourceFile(full, info));
  *resolved = full;
  return Status::Ok();
}

Status PathPolicy::ResolveOutput(const std::string& path, std::string* resolved) const {
  std::string root, rel;
  FLS_RETURN_IF_ERROR(Locate(outputs_, path, "output", &root, &rel));
  std::unique_ptr<Directory> dir;
  FLS_RETURN_IF_ERROR(Env::Default()->OpenDirectory(root, &dir));
  // The existing part must be directories reached without a link; the rest
  // is made when the job runs (below the root's descriptor again).
  std::string walked = root;
  for (const auto& part : fs::path(rel)) {
    const std::string name = part.string();
    if (name.empty()) continue;
    FileInfo info;
    Status s = dir->GetFileInfo(name, &info);
    if (s.code() == Status::Code::kNotFound) break;
    FLS_RETURN_IF_ERROR(s);
    walked = JoinPath(walked, name);
    if (info.type != FileType::kDirectory)
      return Status::InvalidArgument("'" + walked + "' is a " + FileTypeName(info.type) +
                                     ", not a directory (symbolic links are not followed below "
                                     "a root)");
    std::unique_ptr<Directory> sub;
    FLS_RETURN_IF_ERROR(dir->OpenDirectory(name, false, &sub));
    dir = std::move(sub);
  }
  *resolved = rel.empty() ? root : JoinPath(root, rel);
  return Status::Ok();
}

Status PathPolicy::ExpandSource(const std::string& resolved, std::size_t max_files,
                                std::vector<std::string>* files) const {
  std::string root, rel;
  FLS_RETURN_IF_ERROR(Locate(sources_, resolved, "source", &root, &rel));
  std::unique_ptr<Directory> dir;
  FLS_RETURN_IF_ERROR(Env::Default()->OpenDirectory(root, &dir));
  FileInfo info;
  FLS_RETURN_IF_ERROR(dir->GetFileInfo(rel, &info));
  if (info.type == FileType::kDirectory) {
    std::unique_ptr<Directory> sub;
    FLS_RETURN_IF_ERROR(dir->OpenDirectory(rel, false, &sub));
    std::vector<std::string> found;
    FLS_RETURN_IF_ERROR(Expand(sub.get(), resolved, 0, max_files, &found));
    files->insert(files->end(), found.begin(), found.end());
  } else {
    FLS_RETURN_IF_ERROR(CheckSourceFile(resolved, info));
    files->push_back(resolved);
  }
  if (files->size() > max_files)
    return Status::InvalidArgument("more than " + std::to_string(max_files) +
                                   " files in one job (service.max_files_per_job)");
  return Status::Ok();
}

}  // namespace fls::service
