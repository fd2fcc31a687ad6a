// The backend registry: builds a backend from a profile and tells which
// backends this binary has and which this host can use.
// `auto` picks cuda when a CUDA device answers, else gfni when the CPU has
// GFNI and AVX-512/AVX2 (once that backend exists), else isal. Naming a
// backend that is not usable here is an Unavailable error that says why;
// it never falls back silently.
// Thread-safety: all functions may be called concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fls/backend.h"
#include "fls/status.h"

namespace fls {

struct BackendInfo {
  std::string name;
  bool compiled = false;  // built into this binary
  bool usable = false;    // works on this host now
  std::string detail;     // why not, or what it runs on
};

// Every backend fls knows, in preference order for `auto` first.
std::vector<BackendInfo> DescribeBackends();

// The backend `auto` resolves to on this host.
std::string ResolveAutoBackend();

// InvalidArgument for an unknown name or bad codec parameters; Unavailable
// (with the reason) for a known backend this host cannot run.
Status CreateBackend(const BackendProfile& profile, std::unique_ptr<Backend>* backend);

// CreateBackend for a codec of k + m with `matrix` (threads: 0 = one per core).
Status MakeBackend(const std::string& name, int threads, int k, int m, MatrixKind matrix,
                   std::unique_ptr<Backend>* backend);

// `shared` when given (its codec must be k + m with `matrix`: InvalidArgument
// otherwise), else a new backend as MakeBackend builds it.
Status SharedOrNewBackend(const std::shared_ptr<Backend>& shared, const std::string& name,
                          int threads, int k, int m, MatrixKind matrix,
                          std::shared_ptr<Backend>* backend);

}  // namespace fls
