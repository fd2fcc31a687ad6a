// RebalanceStore (fls/rebalance.h): cleanup of earlier runs' leftovers, then
// the planned moves, one object (one manifest generation) at a time.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>

#include "chunk_checksum.h"
#include "fls/crc32c.h"
#include "fls/rebalance.h"
#include "fls/thread_pool.h"
#include "fls/unreferenced.h"
#include "leftovers.h"
#include "maintenance_lock.h"
#include "manifest_commit.h"
#include "object_io.h"

namespace fls {
namespace {

constexpr std::size_t kCopyBuffer = 1u << 20;

bool IsDirectory(Env* env, const std::string& path) {
  FileInfo info;
  return env->GetFileInfo(path, &info).ok() && info.is_directory;
}

struct ObjectMove {
  int chunk = 0;
  std::string from;  // where the plan expects the chunk
  int to = 0;        // store target index
};

// Copies chunk mv.chunk of `mf` to a temporary beside its place on target
// mv.to (added to `temps` once created), checking the bytes written against
// the manifest. *skipped says why the chunk cannot move (its source is
// unreadable or damaged); a non-OK status is a failure of the destination.
Status CopyChunkChecked(const Store& store, const Manifest& mf, const ObjectMove& mv,
                        std::vector<std::uint8_t>* buf, std::vector<std::string>* temps,
                        std::string* skipped) {
  Env* env = store.env();
  const ManifestChunk& mc = mf.chunks[mv.chunk];
  const Target& dst = store.targets()[mv.to];
  const std::string what =
      "moving chunk " + std::to_string(mv.chunk) + " of '" + mf.name + "' to target " + dst.path;
  const std::string tmp = TempPathFor(JoinPath(dst.path, mc.file));
  std::unique_ptr<RandomAccessFile> src;
  Status s = internal::OpenChunkFile(env, mc.target, mc.file, &src, nullptr);
  if (!s.ok()) {
    *skipped = "chunk " + std::to_string(mv.chunk) + " unreadable (" + s.message() +
               "): not moved; run `fls repair`";
    return Status::Ok();
  }
  std::unique_ptr<WritableFile> wf;
  FLS_RETURN_IF_ERROR(env->NewWritableFile(tmp, &wf).WithContext(what));
  temps->push_back(tmp);
  internal::BufferedAppender out(std::move(wf), false);
  internal::ChunkStreamChecksum sum(mf, mv.chunk);
  std::uint64_t off = 0;
  for (;;) {
    std::size_t got = 0;
    s = src->Read(off, buf->size(), buf->data(), &got);
    if (!s.ok()) {
      *skipped = "chunk " + std::to_string(mv.chunk) + " unreadable (" + s.message() +
                 "): not moved; run `fls repair`";
      return Status::Ok();
    }
    if (got == 0) break;
    off += got;
    sum.Update(buf->data(), got);
    FLS_RETURN_IF_ERROR(out.Append(buf->data(), got).WithContext(what));
  }
  FLS_RETURN_IF_ERROR(out.SyncAndClose().WithContext(what));
  // The bytes written are checked against the manifest, not against the
  // source: a source that rotted is not spread further.
  if (!sum.Matches(mc))
    *skipped = "chunk " + std::to_string(mv.chunk) + " (" + mc.path() +
               ") is damaged: its header, a block CRC, its checksum or its size differs from the "
               "manifest's; not moved, run "
               "`fls repair`";
  return Status::Ok();
}

// Why an object was skipped (damaged source), or "" when the moves were
// committed; a non-OK status for failures of the destination or the commit.
Status MoveObjectChunks(const Store& store, const CatalogEntry& entry,
                        const std::vector<ObjectMove>& moves, std::string* skipped) {
  Env* env = store.env();
  const Manifest& mf = entry.manifest;
  skipped->clear();
  std::vector<std::string> temps, finals;
  auto undo = [&] {
    std::set<std::string> dirs;
    for (const auto& p : temps) env->RemoveFile(p);
    for (const auto& p : finals)
      if (env->RemoveFile(p).ok()) dirs.insert(DirName(p));
    for (const auto& d : dirs) env->SyncDir(d);
  };
  std::vector<std::uint8_t> buf(kCopyBuffer);
  for (const ObjectMove& mv : moves) {
    const ManifestChunk& mc = mf.chunks[mv.chunk];
    if (mc.target != mv.from) {
      undo();
      *skipped = "chunk " + std::to_string(mv.chunk) + " is on " + mc.target + ", not on " +
                 mv.from + " as planned (changed meanwhile); not moved";
      return Status::Ok();
    }
    Status s = CopyChunkChecked(store, mf, mv, &buf, &temps, skipped);
    if (!s.ok() || !skipped->empty()) {
      undo();
      return s;
    }
  }
  std::set<std::string> dirs;
  for (std::size_t x = 0; x < moves.size(); ++x) {
    const std::string final_path =
        JoinPath(store.targets()[moves[x].to].path, mf.chunks[moves[x].chunk].file);
    Status s = env->RenameFile(temps[x], final_path);
    if (!s.ok()) {
      undo();
      return s.WithContext("moving chunk " + std::to_string(moves[x].chunk) + " of '" + mf.name +
                           "'");
    }
    finals.push_back(final_path);
    dirs.insert(DirName(final_path));
  }
  temps.clear();
  for (const std::string& d : dirs) {
    Status s = env->SyncDir(d);
    if (!s.ok()) {
      undo();
      return s.WithContext("target " + d);
    }
  }
  Manifest next = mf;
  for (const ObjectMove& mv : moves) {
    next.chunks[mv.chunk].target = store.targets()[mv.to].path;
    next.chunks[mv.chunk].domain = store.targets()[mv.to].domain;
    if (!IsPathAddressedManifest(next.format_version))
      next.chunks[mv.chunk].target_id = store.TargetId(mv.to);
  }
  std::vector<std::string> written;
  Status s = internal::CommitNextGeneration(store, entry, &next, &written);
  if (!s.ok()) {
    undo();
    return s.WithContext("committing the moves of '" + mf.name + "'");
  }
  // Committed: the old chunk files and manifest copies are superseded.
  dirs.clear();
  for (const ObjectMove& mv : moves)
    if (env->RemoveFile(mf.chunks[mv.chunk].path()).ok()) dirs.insert(mf.chunks[mv.chunk].target);
  for (const std::string& d : dirs) env->SyncDir(d);
  internal::RemoveSupersededCopies(env, entry, written);
  return Status::Ok();
}

// Walks the catalogue: each object's manifest leftovers cleared (unless a
// dry run), its placement recorded for the plan and the leftover check.
void ReadObjects(const Store& store, bool dry_run, std::vector<Target>* targets,
                 std::vector<bool>* usable, std::vector<std::uint64_t>* free,
                 std::vector<PlanObject>* objects, ChunkReferences* refs, RebalanceResult* result) {
  auto index_of = [&](const ManifestChunk& c) {
    // A target the manifest names that the store does not list: its chunks
    // stay put and count for fault tolerance only.
    const std::string path = c.target.empty() ? "(unknown target " + c.target_id + ")" : c.target;
    for (std::size_t t = 0; t < targets->size(); ++t)
      if ((*targets)[t].path == path) return static_cast<int>(t);
    targets->push_back({path, c.domain.empty() ? path : c.domain});
    usable->push_back(false);
    free->push_back(0);
    return static_cast<int>(targets->size() - 1);
  };
  CatalogWalk walk;
  store.WalkCatalog(
      [&](CatalogEntry& e) {
        bool in_flux = false;
        if (!dry_run && internal::CleanManifestLeftovers(store, e, &result->cleaned,
                                                         &result->warnings, &in_flux)) {
          CatalogEntry again;
          Status s = store.FindObject(e.manifest.name, &again);
          if (!s.ok()) {
            result->warnings.push_back("'" + e.manifest.name + "': " + s.ToString());
            return true;
          }
          e = std::move(again);
        }
        refs->Add(store, e.manifest);
        PlanObject ob;
        ob.name = e.manifest.name;
        ob.m = e.manifest.m;
        ob.movable = !in_flux;
        for (const ManifestChunk& c : e.manifest.chunks) {
          ob.chunk_target.push_back(index_of(c));
          ob.chunk_bytes.push_back(c.bytes);
        }
        objects->push_back(std::move(ob));
        return true;
      },
      &walk);
  result->warnings.insert(result->warnings.end(), walk.warnings.begin(), walk.warnings.end());
  for (const UnreadableObject& u : walk.unreadable)
    result->warnings.push_back("every manifest copy of " +
                               (u.name.empty() ? "name hash " + u.hash : "'" + u.name + "'") +
                               " is unreadable: not moved");
}

// What the plan knows of the store's own targets: which may take chunks (a
// directory, joined unless a dry run) and their free space.
void SurveyTargets(const Store& store, bool dry_run, std::vector<bool>* usable,
                   std::vector<std::uint64_t>* free, RebalanceResult* result) {
  Env* env = store.env();
  const std::vector<Target>& targets = store.targets();
  for (std::size_t t = 0; t < targets.size(); ++t) {
    usable->push_back(IsDirectory(env, targets[t].path) &&
                      (dry_run || !store.TargetId(static_cast<int>(t)).empty()));
    std::uint64_t f = 0;
    if (usable->back() && !env->GetFreeSpace(targets[t].path, &f).ok()) f = 0;
    free->push_back(f);
    if (!usable->back())
      result->warnings.push_back("target " + targets[t].path +
                                 " is not a directory of this store: left out");
  }
}

RebalanceMove MoveOf(const PlanObject& ob, const std::vector<Target>& targets,
                     const ObjectMove& mv) {
  return RebalanceMove{ob.name, mv.chunk, mv.from, targets[mv.to].path, ob.chunk_bytes[mv.chunk]};
}

// Carries out the plan round by round (each round's moves build on the
// generations the one before committed); in a round, one commit per object,
// in the order the plan first touches it. Objects are independent (disjoint
// files), and a move waits mostly on fsync: several objects move at once.
// After a failure no further object starts; those already moving finish.
// `apply` learns every move committed.
Status MoveInRounds(const Store& store, const RebalanceOptions& opt,
                    const std::vector<PlanObject>& objects, const std::vector<Target>& targets,
                    const std::vector<PlannedMove>& plan,
                    const std::function<void(const RebalanceMove&)>& apply,
                    RebalanceResult* result) {
  Status status;
  std::set<int> given_up;  // skipped objects stay out of later rounds
  const int rounds = plan.empty() ? 0 : plan.back().round + 1;
  for (int round = 0; round < rounds && status.ok(); ++round) {
    std::vector<int> object_order;
    std::map<int, std::vector<ObjectMove>> by_object;
    for (const PlannedMove& p : plan) {
      if (p.round != round || given_up.count(p.object)) continue;
      if (!by_object.count(p.object)) object_order.push_back(p.object);
      by_object[p.object].push_back({p.chunk, targets[p.from].path, p.to});
    }
    struct Outcome {
      bool done = false;
      Status status;
      std::string skipped;
    };
    std::vector<Outcome> outcomes(object_order.size());
    std::atomic<bool> failed{false};
    std::mutex mu;
    ThreadPool pool(std::max(1, opt.parallel));
    pool.Run(object_order.size(), [&](std::size_t x) {
      if (failed.load()) return;
      const int o = object_order[x];
      Outcome& out = outcomes[x];
      // Read now: the round before (or a repair) may have committed since.
      CatalogEntry e;
      Status found = store.FindObject(objects[o].name, &e);
      if (!found.ok())
        out.skipped = "its manifest is no longer found (" + found.message() + ")";
      else
        out.status = MoveObjectChunks(store, e, by_object.at(o), &out.skipped);
      out.done = true;
      if (!out.status.ok()) {
        failed = true;
        return;
      }
      if (opt.on_commit && out.skipped.empty()) {
        std::vector<RebalanceMove> committed;
        for (const ObjectMove& mv : by_object.at(o))
          committed.push_back(MoveOf(objects[o], targets, mv));
        std::lock_guard<std::mutex> lock(mu);
        opt.on_commit(committed);
      }
    });
    for (std::size_t x = 0; x < object_order.size(); ++x) {
      const Outcome& out = outcomes[x];
      const int o = object_order[x];
      if (!out.done) continue;
      if (!out.status.ok()) {
        if (status.ok()) status = out.status;
        continue;
      }
      if (!out.skipped.empty()) {
        result->skipped.push_back("'" + objects[o].name + "': " + out.skipped);
        given_up.insert(o);
        continue;
      }
      for (const ObjectMove& mv : by_object.at(o)) {
        result->moved.push_back(MoveOf(objects[o], targets, mv));
        apply(result->moved.back());
        result->bytes_moved += result->moved.back().bytes;
      }
      ++result->objects_committed;
    }
  }
  return status;
}

}  // namespace

Status RebalanceStore(const Store& store, const RebalanceOptions& opt, RebalanceResult* result) {
  *result = RebalanceResult{};
  // A repair sweep rewrites manifests and removes chunk files too: never both at once.
  std::unique_ptr<internal::MaintenanceLock> lock;
  if (!opt.dry_run) {
    FLS_RETURN_IF_ERROR(internal::MaintenanceLock::Acquire(store, "rebalance", &lock));
    FLS_RETURN_IF_ERROR(store.Join());  // new targets join before chunks move onto them
    store.RemoveStaleTemporaries(&result->cleaned, &result->warnings);
  }
  // The store's targets, then any target a manifest names that the store
  // does not list.
  std::vector<Target> targets = store.targets();
  const std::size_t store_targets = targets.size();
  std::vector<bool> usable;
  std::vector<std::uint64_t> free;
  SurveyTargets(store, opt.dry_run, &usable, &free, result);
  std::vector<PlanObject> objects;
  ChunkReferences refs;
  ReadObjects(store, opt.dry_run, &targets, &usable, &free, &objects, &refs, result);
  if (!opt.dry_run) {
    refs.Finish();
    std::vector<UnreferencedChunk> found;
    FindUnreferencedChunks(store, refs, 0, &found, &result->warnings);
    internal::RemoveLeftoverChunks(store, refs, found, &result->cleaned, &result->warnings);
  }
  auto index_of = [&](const std::string& path) {
    for (std::size_t t = 0; t < targets.size(); ++t)
      if (targets[t].path == path) return static_cast<int>(t);
    return -1;
  };
  std::vector<std::uint64_t> usage(targets.size(), 0);
  std::vector<int> count(targets.size(), 0);
  for (const PlanObject& ob : objects)
    for (std::size_t c = 0; c < ob.chunk_target.size(); ++c) {
      usage[ob.chunk_target[c]] += ob.chunk_bytes[c];
      ++count[ob.chunk_target[c]];
    }
  for (std::size_t t = 0; t < store_targets; ++t)
    result->targets.push_back(
        {targets[t].path, targets[t].domain, usable[t], usage[t], usage[t], count[t], count[t]});
  result->spread_before = UsageSpread(usage, usable);

  const std::vector<PlannedMove> plan =
      PlanRebalance(targets, usable, free, objects, opt.tolerance, opt.max_moves);
  for (const PlannedMove& p : plan)
    result->planned.push_back(
        MoveOf(objects[p.object], targets, {p.chunk, targets[p.from].path, p.to}));
  auto apply = [&](const RebalanceMove& mv) {
    const int from = index_of(mv.from), to = index_of(mv.to);
    usage[from] -= mv.bytes;
    usage[to] += mv.bytes;
    --count[from];
    ++count[to];
  };
  Status status;
  if (opt.dry_run)
    for (const RebalanceMove& mv : result->planned) apply(mv);
  else
    status = MoveInRounds(store, opt, objects, targets, plan, apply, result);
  for (std::size_t t = 0; t < store_targets; ++t) {
    result->targets[t].after = usage[t];
    result->targets[t].chunks_after = count[t];
  }
  result->spread_after = UsageSpread(usage, usable);
  result->balanced = result->spread_after <= opt.tolerance;
  return status;
}

}  // namespace fls
