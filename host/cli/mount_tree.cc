// MountTree (mount_tree.h).
#include "mount_tree.h"

#include "fls/pack.h"

namespace fls::cli {

bool NameComponents(const std::string& name, std::vector<std::string>* parts) {
  parts->clear();
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t slash = name.find('/', start);
    if (slash == std::string::npos) slash = name.size();
    std::string part = name.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    parts->push_back(std::move(part));
    start = slash + 1;
  }
  return !parts->empty();
}

MountTree::MountTree() : root_(std::make_unique<MountNode>()) { root_->dir = true; }

bool MountTree::Add(const MountFile& f, std::string* why) {
  why->clear();
  if (IsPackName(f.name)) {
    *why = "'" + f.name + "' is a pack object (internal)";
    return false;
  }
  std::vector<std::string> parts;
  if (!NameComponents(f.name, &parts)) {
    *why = "object name '" + f.name + "' is no path (an empty, '.' or '..' component)";
    return false;
  }
  // Check the whole path before changing anything.
  MountNode* node = root_.get();
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto it = node->children.find(parts[i]);
    if (it == node->children.end()) break;
    const bool last = i + 1 == parts.size();
    if (!last && !it->second->dir) {
      *why = "object '" + f.name + "' lies below object '" + it->second->file.name +
             "'; that file is hidden behind the directory";
      // The directory wins: the file is replaced below.
      break;
    }
    if (last && it->second->dir) {
      *why = "object '" + f.name + "' is also a directory of other objects; it is hidden";
      return false;
    }
    node = it->second.get();
  }
  node = root_.get();
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    auto& child = node->children[parts[i]];
    if (child && !child->dir) {
      --files_;
      child.reset();
    }
    if (!child) {
      child = std::make_unique<MountNode>();
      child->dir = true;
    }
    node->mtime_ns = std::max(node->mtime_ns, f.mtime_ns);
    node = child.get();
  }
  node->mtime_ns = std::max(node->mtime_ns, f.mtime_ns);
  auto& leaf = node->children[parts.back()];
  if (!leaf) {
    leaf = std::make_unique<MountNode>();
    ++files_;
  }
  leaf->file = f;
  return true;
}

const MountNode* MountTree::Find(const std::string& path) const {
  const MountNode* node = root_.get();
  if (path == "/" || path.empty()) return node;
  std::vector<std::string> parts;
  if (!NameComponents(path.substr(path[0] == '/' ? 1 : 0), &parts)) return nullptr;
  for (const std::string& p : parts) {
    if (!node->dir) return nullptr;
    auto it = node->children.find(p);
    if (it == node->children.end()) return nullptr;
    node = it->second.get();
  }
  return node;
}

}  // namespace fls::cli
