// ReportSpace (fls/space_report.h): one catalogue walk records each live
// object's geometry (and splits its packs by member liveness), then each
// target is listed and every file in it classified by name and stat.
#include "fls/space_report.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "fls/manifest.h"
#include "fls/pack.h"
#include "fls/unreferenced.h"
#include "pack_space.h"

namespace fls {

void SpaceBytes::Add(const SpaceBytes& o) {
  data += o.data;
  padding += o.padding;
  parity += o.parity;
  headers += o.headers;
  dead += o.dead;
  manifests += o.manifests;
  damaged += o.damaged;
  temporaries += o.temporaries;
  orphan_chunks += o.orphan_chunks;
  leftover_chunks += o.leftover_chunks;
  other += o.other;
  chunks_allocated += o.chunks_allocated;
  manifests_allocated += o.manifests_allocated;
  damaged_allocated += o.damaged_allocated;
  leftovers_allocated += o.leftovers_allocated;
  files += o.files;
  foreign_files += o.foreign_files;
  foreign_bytes += o.foreign_bytes;
}

namespace {

struct LiveObject {
  ObjectId id{};
  StripeGeometry geometry;
  int m = 0;
  int pack = -1;  // index into Walked::packs
};

// What the catalogue walk keeps for the listing.
struct Walked {
  std::vector<LiveObject> objects;  // sorted by id after the walk
  std::vector<internal::PackSplit> packs;
  ChunkReferences refs;
  std::unordered_map<std::string, bool> unreferenced;  // path -> orphan
  const LiveObject* Find(const ObjectId& id) const {
    auto it = std::lower_bound(objects.begin(), objects.end(), id,
                               [](const LiveObject& o, const ObjectId& v) { return o.id < v; });
    return it != objects.end() && it->id == id ? &*it : nullptr;
  }
};

void WalkObjects(const Store& store, Walked* w, SpaceReport* r) {
  internal::IndexBackends backends;
  CatalogWalk walk;
  store.WalkCatalog(
      [&](CatalogEntry& e) {
        const Manifest& mf = e.manifest;
        // A generation without chunks holds no bytes (a tombstone): only its
        // manifest files count, as manifests.
        if (mf.chunks.empty()) return true;
        w->refs.Add(store, mf);
        LiveObject o;
        o.id = mf.id;
        o.geometry = mf.geometry();
        o.m = mf.m;
        ++r->objects;
        if (IsPackName(mf.name)) {
          ++r->packs;
          internal::PackSplit split;
          Status s = internal::SplitPack(store, e, &backends, &split, &r->warnings);
          if (s.ok()) {
            o.pack = static_cast<int>(w->packs.size());
            r->live_members += split.live_members;
            r->dead_members += split.dead_members;
            r->live_source_bytes += split.live_bytes;
            w->packs.push_back(std::move(split));
          } else {
            r->warnings.push_back("pack '" + mf.name +
                                  "': its index cannot be read, its bytes count as data and "
                                  "none as live source bytes: " +
                                  s.ToString());
          }
        } else {
          r->live_source_bytes += mf.size;
        }
        w->objects.push_back(std::move(o));
        return true;
      },
      &walk);
  for (const std::string& s : walk.warnings) r->warnings.push_back(s);
  for (const UnreadableObject& u : walk.unreadable)
    r->warnings.push_back("name " + (u.name.empty() ? "hash " + u.hash : "'" + u.name + "'") +
                          ": every manifest copy is unreadable; its chunks count as orphans");
  std::sort(w->objects.begin(), w->objects.end(),
            [](const LiveObject& a, const LiveObject& b) { return a.id < b.id; });
  w->refs.Finish();
}

// Chunk i of a live object whose file has the size its geometry says.
void CountLiveChunk(const Walked& w, const LiveObject& o, int i, SpaceBytes* b) {
  const StripeGeometry& g = o.geometry;
  const std::uint64_t S = g.stripes();
  b->headers += kChunkHeaderBytes + S * kBlockCrcBytes;
  if (S == 0) return;
  const std::uint64_t blocks = (S - 1) * g.full_block() + g.last_block();
  if (i >= g.k()) {
    b->parity += blocks;
    return;
  }
  // Full stripes' data blocks are all file bytes; the last stripe's may be
  // partly or wholly padding.
  const std::uint64_t data = (S - 1) * g.full_block() + g.data_block_range(S - 1, i).size();
  if (o.pack < 0) {
    b->data += data;
    b->padding += blocks - data;
    return;
  }
  const internal::PackSplit& p = w.packs[o.pack];
  const std::uint64_t named = p.live[i] + p.dead[i] + p.index[i];
  b->data += p.live[i];
  b->dead += p.dead[i];
  b->headers += p.index[i];
  // Members and the index are file bytes, so named <= data; the rest of the
  // blocks is padding or bytes no index entry names.
  b->padding += blocks - std::min(named, data);
}

void CountChunkFile(const Walked& w, const std::string& path, std::string_view name,
                    const FileInfo& info, SpaceBytes* b) {
  ObjectId id;
  int index = 0;
  ParseChunkFileName(name, &id, &index);
  auto u = w.unreferenced.find(path);
  const LiveObject* o = w.Find(id);
  const std::uint64_t alloc = info.allocated;
  if (u != w.unreferenced.end() || o == nullptr) {
    // Orphans and leftovers as FindUnreferencedChunks judged them; a chunk
    // of an unknown object that appeared after it listed is an orphan too.
    const bool orphan = u != w.unreferenced.end() ? u->second : true;
    (orphan ? b->orphan_chunks : b->leftover_chunks) += info.size;
    b->leftovers_allocated += alloc;
    return;
  }
  if (index >= o->geometry.k() + o->m) {
    b->other += info.size;
    b->leftovers_allocated += alloc;
    return;
  }
  // Placed here, or a misplaced copy that readers use (its placed copy is
  // missing): live either way.
  if (info.size != o->geometry.chunk_file_bytes()) {
    b->damaged += info.size;
    b->damaged_allocated += alloc;
    return;
  }
  CountLiveChunk(w, *o, index, b);
  b->chunks_allocated += alloc;
}

// Manifests of every version and kind (tombstones too), member records,
// the identity and the control files.
bool IsMetadataName(std::string_view n) {
  auto ends = [&](std::string_view s) {
    return n.size() >= s.size() && n.substr(n.size() - s.size()) == s;
  };
  return n == "fls-target.json" || n == ".fls-temp-scan" || n == ".fls-maintenance.lock" ||
         (n.rfind("fls-", 0) == 0 && (ends(".manifest") || ends(".member")));
}

void CountTarget(const Store& store, const Walked& w, TargetSpace* ts,
                 std::vector<std::string>* warnings) {
  Env* env = store.env();
  SpaceBytes* b = &ts->bytes;
  Status s = env->ForEachChild(ts->path, [&](std::string_view n) {
    const std::string path = JoinPath(ts->path, std::string(n));
    FileInfo info;
    if (!env->GetFileInfo(path, &info).ok()) return true;  // removed meanwhile
    const bool fls_named = n.rfind("fls-", 0) == 0 || n.rfind(".fls-", 0) == 0 || IsTempName(n);
    if (!fls_named || info.type != FileType::kRegular) {
      ++b->foreign_files;
      b->foreign_bytes += info.size;
      return true;
    }
    ++b->files;
    ObjectId id;
    int index = 0;
    if (IsTempName(n)) {
      b->temporaries += info.size;
      b->leftovers_allocated += info.allocated;
    } else if (IsMetadataName(n)) {
      b->manifests += info.size;
      b->manifests_allocated += info.allocated;
    } else if (ParseChunkFileName(n, &id, &index)) {
      CountChunkFile(w, path, n, info, b);
    } else {
      b->other += info.size;
      b->leftovers_allocated += info.allocated;
    }
    return true;
  });
  ts->readable = s.ok();
  if (!s.ok() && s.code() != Status::Code::kNotFound)
    warnings->push_back("target " + ts->path + " unreadable: " + s.ToString());
  ts->free_known = env->GetFreeSpace(ts->path, &ts->free).ok();
}

}  // namespace

Status ReportSpace(const Store& store, SpaceReport* report) {
  *report = SpaceReport{};
  const auto& targets = store.targets();
  if (targets.empty()) return Status::InvalidArgument("the store has no targets");
  Walked w;
  WalkObjects(store, &w, report);
  std::vector<UnreferencedChunk> found;
  FindUnreferencedChunks(store, w.refs, 0, &found, &report->warnings);
  for (const UnreferencedChunk& u : found) w.unreferenced[u.path] = u.orphan;
  std::map<std::uint64_t, int> first_on_device;
  for (std::size_t t = 0; t < targets.size(); ++t) {
    TargetSpace ts;
    ts.path = targets[t].path;
    ts.domain = targets[t].domain;
    CountTarget(store, w, &ts, &report->warnings);
    FileInfo dir;
    if (ts.free_known && store.env()->GetFileInfo(ts.path, &dir).ok()) {
      auto [it, fresh] = first_on_device.emplace(dir.device, static_cast<int>(t));
      if (fresh)
        report->free += ts.free;
      else
        ts.shares_fs_with = it->second;
    }
    report->total.Add(ts.bytes);
    report->targets.push_back(std::move(ts));
  }
  if (report->live_source_bytes > 0)
    report->overhead_ratio = static_cast<double>(report->total.allocated()) /
                             static_cast<double>(report->live_source_bytes);
  return Status::Ok();
}

}  // namespace fls
