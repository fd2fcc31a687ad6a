// `fls init [STORE] [--json]`: formats a store once, as mkfs formats a disk.
// Every target is checked first (it exists or can be created, is a
// directory, takes a new file, carries no damaged identity; targets of two
// stores are refused when the store opens), and only when all pass do they
// join the store (Store::Join). Re-running it is harmless: targets already
// joined keep their identity and are reported as members.
//
// Writers still join on their first write; `init` lets a user see the
// store's and targets' ids before anything is archived, and makes an empty
// store a store rather than a list of directories.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "fls/env.h"
#include "fls/store.h"
#include "store_args.h"

namespace fls::cli {
namespace {

struct TargetState {
  std::vector<std::string> created;  // directories this run made, the deepest last
  std::string id_before;             // "" when the target had not joined
};

// Makes the missing directories of `dir` and records them, so that a failed
// run can take them away again. Walks up to the nearest ancestor that
// exists: a file there is why `dir` cannot be created (stat below it says
// only "Not a directory").
Status CreateTargetDir(Env* env, const std::string& dir, TargetState* st) {
  std::vector<std::string> missing;
  Status below;  // why the path just below the ancestor found could not be read
  std::string p = dir;
  // Bounded by the path's components: DirName shortens p every round.
  for (std::size_t round = 0; round <= dir.size(); ++round) {
    FileInfo info;
    Status s = env->GetFileInfo(p, &info);
    if (s.ok()) {
      if (!info.is_directory)
        return Status::InvalidArgument("target " + dir + ": cannot be created: " + p +
                                       " is not a directory");
      break;
    }
    below = s;
    missing.insert(missing.begin(), p);
    const std::string parent = DirName(p);
    if (parent == p) break;
    p = parent;
  }
  if (!below.ok() && below.code() != Status::Code::kNotFound)
    return Status::IOError("target " + dir + ": cannot be created: " + below.message());
  for (const std::string& m : missing) {
    Status s = env->CreateDirs(m);
    if (!s.ok()) return Status::IOError("target " + dir + ": cannot be created: " + s.message());
    st->created.push_back(m);
  }
  return Status::Ok();
}

// The target must be a directory that takes a new file: a real write (a
// temporary, removed at once; the stale-temporary cleanup takes it should
// this process die in between), because permission bits tell nothing for
// root, read-only mounts or ACLs.
Status CheckTarget(Env* env, const Target& t, TargetState* st) {
  FileInfo info;
  Status s = env->GetFileInfo(t.path, &info);
  if (!s.ok()) {
    FLS_RETURN_IF_ERROR(CreateTargetDir(env, t.path, st));
  } else if (!info.is_directory) {
    return Status::InvalidArgument("target " + t.path + ": is not a directory");
  }
  const std::string probe = TempPathFor(JoinPath(t.path, "fls-init-probe"));
  std::unique_ptr<WritableFile> f;
  s = env->NewWritableFile(probe, &f);
  if (s.ok()) s = f->Close();
  if (!s.ok()) return Status::IOError("target " + t.path + ": not writable: " + s.message());
  env->RemoveFile(probe);  // best effort: a leftover is a stale temporary
  return Status::Ok();
}

// Removes the directories a failed run made (only while empty).
void RemoveCreated(const std::vector<TargetState>& states) {
  for (const TargetState& st : states)
    for (auto it = st.created.rbegin(); it != st.created.rend(); ++it) ::rmdir(it->c_str());
}

// Checks every target and reports each one at fault; the first failure is
// returned. Nothing is left of this run when one fails. A damaged identity
// is looked at only once every target is a writable directory: a target that
// is a file would otherwise be reported as an unreadable identity.
Status CheckAllTargets(const Store& store, std::vector<TargetState>* states) {
  const std::vector<Target>& targets = store.targets();
  states->assign(targets.size(), TargetState{});
  Status first;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    (*states)[i].id_before = store.TargetId(static_cast<int>(i));
    Status s = CheckTarget(store.env(), targets[i], &(*states)[i]);
    if (s.ok()) continue;
    std::fprintf(stderr, "fls init: %s\n", s.ToString().c_str());
    if (first.ok()) first = s;
  }
  if (first.ok())
    for (const std::string& w : store.IdentityWarnings()) {
      Status s = Status::Corruption(w);
      std::fprintf(stderr, "fls init: %s\n", s.ToString().c_str());
      if (first.ok()) first = s;
    }
  if (!first.ok()) RemoveCreated(*states);
  return first;
}

// Joins every target; afterwards each must carry an id.
Status JoinAll(const Store& store) {
  FLS_RETURN_IF_ERROR(store.Join());
  if (const auto w = store.IdentityWarnings(); !w.empty()) return Status::Corruption(w.front());
  for (std::size_t i = 0; i < store.targets().size(); ++i)
    if (store.TargetId(static_cast<int>(i)).empty())
      return Status::IOError("target " + store.targets()[i].path + " did not join the store");
  return Status::Ok();
}

void Print(const Store& store, const std::vector<TargetState>& states, bool json) {
  const std::vector<Target>& targets = store.targets();
  std::size_t joined = 0;
  for (const TargetState& st : states) joined += st.id_before.empty() ? 1 : 0;
  if (json) {
    nlohmann::json j = {{"store_id", store.store_id()},
                        {"new_store", joined == targets.size()},
                        {"already_initialised", joined == 0},
                        {"targets", nlohmann::json::array()}};
    for (std::size_t i = 0; i < targets.size(); ++i)
      j["targets"].push_back({{"path", targets[i].path},
                              {"domain", targets[i].domain},
                              {"target_id", store.TargetId(static_cast<int>(i))},
                              {"joined_now", states[i].id_before.empty()},
                              {"created_dir", !states[i].created.empty()}});
    std::printf("%s\n", j.dump().c_str());
    return;
  }
  if (joined == 0)
    std::printf("store %s: already initialised (%zu target(s))\n", store.store_id().c_str(),
                targets.size());
  else if (joined == targets.size())
    std::printf("store %s: initialised (%zu target(s) joined)\n", store.store_id().c_str(), joined);
  else
    std::printf("store %s: %zu target(s) joined, %zu already members\n", store.store_id().c_str(),
                joined, targets.size() - joined);
  for (std::size_t i = 0; i < targets.size(); ++i)
    std::printf("  %-16s %-40s domain %s%s%s\n", store.TargetId(static_cast<int>(i)).c_str(),
                targets[i].path.c_str(), targets[i].domain.c_str(),
                states[i].id_before.empty() ? "  (joined)" : "",
                states[i].created.empty() ? "" : "  (directory created)");
}

void AddInit(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "init", "Check every target and join them all to the store (idempotent, like mkfs)");
  auto a = std::make_shared<CommonArgs>();
  AddCommon(cmd, a.get(), false);
  cmd->add_option("args", a->positional, "[STORE]");
  cmd->callback([a, &exit_code] {
    std::unique_ptr<Store> store;
    Status s = OpenStoreOnly(a.get(), &store);
    if (!s.ok()) {
      exit_code = Fail("init", s);
      return;
    }
    std::vector<TargetState> states;
    s = CheckAllTargets(*store, &states);
    if (!s.ok()) {
      exit_code = ExitCodeFor(s);  // each target at fault is printed already
      return;
    }
    s = JoinAll(*store);
    if (!s.ok()) {
      exit_code = Fail("init", s);
      return;
    }
    if (!a->quiet) Print(*store, states, a->json);
    exit_code = kExitOk;
  });
}

}  // namespace

void AddInitCommand(CLI::App& app, int& exit_code) { AddInit(app, exit_code); }

}  // namespace fls::cli
