// What every store-using command shares: the store options (--store,
// --target, a positional STORE, FLS_STORE), the common flags, and how errors
// and health become exit codes.
// Thread-safety: called from the CLI's one thread.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fls/archive.h"
#include "fls/status.h"
#include "fls/store.h"

namespace fls {
class HealthDb;
}

namespace fls::cli {

inline constexpr const char* kStoreFileInDir = "fls-store.yaml";

struct CommonArgs {
  std::string store_file;
  std::vector<std::string> targets;
  std::vector<std::string> positional;
  bool json = false;
  bool quiet = false;
  std::string backend = "auto";
  int threads = 0;
};

// --store, --target, --json, -q (and --backend, --threads when `backend`).
void AddCommon(CLI::App* cmd, CommonArgs* a, bool backend);
// Builds the store; `min_rest` positionals must remain for the command itself.
Status OpenStore(CommonArgs* a, std::size_t min_rest, std::unique_ptr<Store>* store);
// OpenStore for commands that take only [STORE]: any other positional is
// refused ("'X' is not a store").
Status OpenStoreOnly(CommonArgs* a, std::unique_ptr<Store>* store);
// Prints "fls CMD: error" and returns the exit code for `s`.
int Fail(const char* cmd, const Status& s);
int HealthExit(Health h);
// Writers clean up after writers that were killed: stale temporaries on the
// targets go before this command writes its own.
void CleanStaleTemporaries(const Store& store, const char* cmd);
// The same through Store::RemoveStaleTemporariesThrottled, for commands
// that run often (archive, rm).
void CleanStaleTemporariesThrottled(const Store& store, const char* cmd);
// The store's health database: `path`, or the default for its targets. With
// create = false a database that does not exist yet leaves *db null.
Status OpenHealthDb(const Store& store, std::string path, bool create,
                    std::unique_ptr<HealthDb>* db);

}  // namespace fls::cli
