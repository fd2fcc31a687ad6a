// The options every store command shares (--store, --target, --json, -q,
// --backend, --threads) and opening the store they name.
//
// The store comes from, in order: --store FILE, repeated --target DIR[=DOMAIN],
// a leading positional STORE (a YAML file, or a directory holding
// fls-store.yaml), or the FLS_STORE environment variable (same forms).
// Thread-safety: used from the CLI's main thread only.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "fls/status.h"
#include "fls/store.h"

namespace fls::cli {

struct CommonArgs {
  std::string store_file;
  std::vector<std::string> targets;
  std::vector<std::string> positional;
  bool json = false;
  bool quiet = false;
  std::string backend = "auto";
  int threads = 0;
};

// Adds --store, --target, --json, -q (and --backend, --threads with `backend`).
void AddCommon(CLI::App* cmd, CommonArgs* a, bool backend);

// Builds the store; `min_rest` positionals must remain for the command itself.
// InvalidArgument saying what to pass when no store is given.
Status OpenStore(CommonArgs* a, std::size_t min_rest, std::unique_ptr<Store>* store);

// Prints "fls CMD: error" on stderr; returns the exit code for `s`.
int Fail(const char* cmd, const Status& s);

}  // namespace fls::cli
