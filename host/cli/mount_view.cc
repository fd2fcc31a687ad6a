// MountView (mount_view.h).
#include "mount_view.h"

#include <chrono>

#include "fls/backend_registry.h"
#include "fls/pack.h"

namespace fls::cli {

MountView::MountView(std::unique_ptr<Store> store, MountViewOptions opt)
    : store_(std::move(store)),
      opt_(std::move(opt)),
      cache_(opt_.cache_bytes),
      tree_(std::make_shared<MountTree>()) {}

MountView::~MountView() {
  StopRelisting();
  CloseAll();
}

void MountView::Close(ObjectStream* stream) {
  std::unique_ptr<ObjectStream> closing;
  {
    std::lock_guard<std::mutex> l(open_mu_);
    auto it = open_.find(stream);
    if (it == open_.end()) return;
    closing = std::move(it->second);
    open_.erase(it);
  }
  // Destroyed outside the lock: it waits for its read-ahead.
}

void MountView::CloseAll() {
  std::map<ObjectStream*, std::unique_ptr<ObjectStream>> closing;
  {
    std::lock_guard<std::mutex> l(open_mu_);
    closing.swap(open_);
  }
}

void MountView::Relist() {
  const auto start = std::chrono::steady_clock::now();
  auto tree = std::make_shared<MountTree>();
  std::size_t hidden = 0;
  auto add = [&](const MountFile& f) {
    std::string why;
    const bool shown = tree->Add(f, &why);
    if (!shown && IsPackName(f.name)) return;  // internal, not worth a line
    if (!shown) ++hidden;
    if (!why.empty()) Log("listing: " + why);
  };
  CatalogWalk walk;
  store_->WalkCatalog(
      [&](CatalogEntry& e) {
        const Manifest& m = e.manifest;
        add({m.name, m.size, m.mode, m.mtime_ns});
        return true;
      },
      &walk);
  std::vector<std::string> problems;
  WalkMembers(
      *store_,
      [&](MemberEntry& e) {
        const PackEntry& p = e.member;
        add({p.name, p.length, p.mode, p.mtime_ns});
        return true;
      },
      &problems);
  for (const auto& u : walk.unreadable)
    Log("listing: object '" + u.name + "' cannot be read: every manifest copy is damaged");
  for (const auto& w : walk.warnings) Log("listing: " + w);
  for (const auto& p : problems) Log("listing: " + p);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Log("listed " + std::to_string(tree->files()) + " files (" + std::to_string(hidden) +
      " hidden) in " + std::to_string(seconds) + " s");
  std::lock_guard<std::mutex> l(mu_);
  tree_ = std::move(tree);
  found_.clear();
}

void MountView::StartRelisting() {
  if (opt_.relist_seconds <= 0 || relister_.joinable()) return;
  relister_ = std::thread([this] {
    std::unique_lock<std::mutex> l(relist_mu_);
    while (!relist_cv_.wait_for(l, std::chrono::seconds(opt_.relist_seconds),
                                [this] { return stop_; })) {
      l.unlock();
      Relist();
      l.lock();
    }
  });
}

void MountView::StopRelisting() {
  {
    std::lock_guard<std::mutex> l(relist_mu_);
    stop_ = true;
  }
  relist_cv_.notify_all();
  if (relister_.joinable()) relister_.join();
}

std::shared_ptr<const MountTree> MountView::tree() const {
  std::lock_guard<std::mutex> l(mu_);
  return tree_;
}

bool MountView::Lookup(const std::string& path, bool* dir, MountFile* file) {
  std::shared_ptr<const MountTree> tree;
  {
    std::lock_guard<std::mutex> l(mu_);
    tree = tree_;
    auto it = found_.find(path);
    if (it != found_.end()) {
      *dir = false;
      *file = it->second;
      return true;
    }
  }
  if (const MountNode* n = tree->Find(path)) {
    *dir = n->dir;
    if (!n->dir) *file = n->file;
    return true;
  }
  // Not in the listing: the name may have been archived since. Only a file
  // whose directory is shown is reached (the kernel looks the directory up
  // first), and never a pack object.
  const std::string name = path.empty() || path[0] != '/' ? path : path.substr(1);
  std::vector<std::string> parts;
  if (!NameComponents(name, &parts) || IsPackName(name)) return false;
  if (parts.size() > 1) {
    const MountNode* parent = tree->Find(path.substr(0, path.rfind('/')));
    if (parent == nullptr || !parent->dir) return false;
  }
  Located found;
  if (!LocateName(*store_, name, &found).ok()) return false;
  MountFile f;
  f.name = name;
  f.size = found.member ? found.packed.length : found.object.manifest.size;
  f.mode = found.member ? found.packed.mode : found.object.manifest.mode;
  f.mtime_ns = found.member ? found.packed.mtime_ns : found.object.manifest.mtime_ns;
  Log("found '" + name + "', archived after the last listing");
  std::lock_guard<std::mutex> l(mu_);
  found_[path] = f;
  *dir = false;
  *file = f;
  return true;
}

Status MountView::BackendFor(int k, int m, MatrixKind matrix, std::shared_ptr<Backend>* backend) {
  std::lock_guard<std::mutex> l(mu_);
  auto& b = backends_[{k, m, static_cast<int>(matrix)}];
  if (!b) {
    std::unique_ptr<Backend> made;
    FLS_RETURN_IF_ERROR(MakeBackend(opt_.backend, opt_.threads, k, m, matrix, &made));
    b = std::move(made);
  }
  *backend = b;
  return Status::Ok();
}

Status MountView::Open(const std::string& name, ObjectStream** out) {
  Located found;
  FLS_RETURN_IF_ERROR(LocateName(*store_, name, &found));
  ObjectStreamOptions o;
  o.cache = &cache_;
  o.read_ahead = opt_.read_ahead;
  o.make_backend = [this](int k, int m, MatrixKind matrix, std::shared_ptr<Backend>* b) {
    return BackendFor(k, m, matrix, b);
  };
  o.on_damage = [this](const std::string& line) {
    Log("damage: " + line + " (the mount never writes: `fls sweep` or `fls repair` rebuilds it)");
  };
  o.on_chunk_damage = opt_.on_chunk_damage;
  std::unique_ptr<ObjectStream> stream;
  FLS_RETURN_IF_ERROR(ObjectStream::Open(*store_, found, o, &stream));
  *out = stream.get();
  std::lock_guard<std::mutex> l(open_mu_);
  open_[*out] = std::move(stream);
  return Status::Ok();
}

}  // namespace fls::cli
