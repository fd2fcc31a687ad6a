// The store options and exit-code helpers (host/cli/store_args.h).
#include "store_args.h"

#include <cstdio>
#include <cstdlib>

#include "commands.h"
#include "fls/env.h"

namespace fls::cli {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The YAML path a STORE argument stands for, or "" when it is not a store.
std::string StoreConfigPath(const std::string& arg) {
  Env* env = Env::Default();
  FileInfo info;
  if (EndsWith(arg, ".yaml") || EndsWith(arg, ".yml")) return arg;
  if (env->GetFileInfo(arg, &info).ok() && info.is_directory &&
      env->GetFileInfo(JoinPath(arg, kStoreFileInDir), &info).ok())
    return JoinPath(arg, kStoreFileInDir);
  return "";
}

}  // namespace

void AddCommon(CLI::App* cmd, CommonArgs* a, bool backend) {
  cmd->add_option("--store", a->store_file, "Store config (YAML with 'targets')");
  cmd->add_option("--target", a->targets, "A target directory, DIR[=DOMAIN] (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->add_flag("-q,--quiet", a->quiet, "Print only errors");
  if (backend) {
    cmd->add_option("--backend", a->backend, "Backend: auto, isal, reference, ... (default auto)");
    cmd->add_option("--threads", a->threads, "Backend worker threads (default: one per core)");
  }
}

Status OpenStore(CommonArgs* a, std::size_t min_rest, std::unique_ptr<Store>* store) {
  Env* env = Env::Default();
  if (!a->store_file.empty() && !a->targets.empty())
    return Status::InvalidArgument("give either --store or --target, not both");
  if (!a->store_file.empty()) {
    std::string path = StoreConfigPath(a->store_file);
    return Store::FromYamlFile(env, path.empty() ? a->store_file : path, store);
  }
  if (!a->targets.empty()) return Store::FromTargetSpecs(env, a->targets, store);
  if (a->positional.size() > min_rest) {
    const std::string path = StoreConfigPath(a->positional.front());
    if (!path.empty()) {
      a->positional.erase(a->positional.begin());
      return Store::FromYamlFile(env, path, store);
    }
  }
  if (const char* e = std::getenv("FLS_STORE"); e != nullptr && *e != '\0') {
    const std::string path = StoreConfigPath(e);
    if (path.empty())
      return Status::InvalidArgument(std::string("FLS_STORE=") + e +
                                     " is neither a .yaml file nor a directory holding " +
                                     kStoreFileInDir);
    return Store::FromYamlFile(env, path, store);
  }
  return Status::InvalidArgument(
      "no store given: pass STORE (a .yaml file or a directory with fls-store.yaml), --store "
      "FILE, --target DIR[=DOMAIN]... or set FLS_STORE");
}

int Fail(const char* cmd, const Status& s) {
  std::fprintf(stderr, "fls %s: %s\n", cmd, s.ToString().c_str());
  return ExitCodeFor(s);
}

int HealthExit(Health h) {
  switch (h) {
    case Health::kHealthy:
      return kExitOk;
    case Health::kDegraded:
      return kExitDegraded;
    case Health::kUnrecoverable:
      return kExitUnrecoverable;
  }
  return kExitFailure;
}

void CleanStaleTemporaries(const Store& store, const char* cmd) {
  std::vector<std::string> removed, warnings;
  store.RemoveStaleTemporaries(&removed, &warnings);
  for (const auto& w : warnings) std::fprintf(stderr, "fls %s: warning: %s\n", cmd, w.c_str());
}

void CleanStaleTemporariesThrottled(const Store& store, const char* cmd) {
  std::vector<std::string> warnings;
  store.RemoveStaleTemporariesThrottled(nullptr, &warnings);
  for (const auto& w : warnings) std::fprintf(stderr, "fls %s: warning: %s\n", cmd, w.c_str());
}

Status OpenStoreOnly(CommonArgs* a, std::unique_ptr<Store>* store) {
  FLS_RETURN_IF_ERROR(OpenStore(a, 0, store));
  if (!a->positional.empty())
    return Status::InvalidArgument("'" + a->positional[0] + "' is not a store");
  return Status::Ok();
}

}  // namespace fls::cli
