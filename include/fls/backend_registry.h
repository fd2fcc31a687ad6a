// The backend registry: builds a backend from a profile and tells which
// backends this binary has and which this host can use.
// `auto` picks cuda when a CUDA device answers, else gfni when the CPU has
// GFNI and AVX-512/AVX2, else isal. Naming a backend that is not usable here
// is an Unavailable error that says why; it never falls back silently.
// Every backend but `reference` runs a known-answer self-test against the
// reference when it is first created for a shape (host/backends/
// backend_self_test.h; the result is kept for the process): on a mismatch it
// is Unavailable with the test's report, and `auto` moves on to the next one.
// Thread-safety: all functions may be called concurrently.
#pragma once

#include <functional>
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

// Every backend fls knows, in preference order for `auto` first. A backend
// whose self-test has failed in this process is listed unusable, with the
// self-test's report as the detail.
std::vector<BackendInfo> DescribeBackends();

// The backend `auto` resolves to on this host: the first usable one that
// passes its self-test in the default shape (10+4); "isal" when none does.
std::string ResolveAutoBackend();

// InvalidArgument for an unknown name or bad codec parameters; Unavailable
// (with the reason) for a known backend this host cannot run or that fails
// its self-test. `auto` is Unavailable only when every candidate is.
Status CreateBackend(const BackendProfile& profile, std::unique_ptr<Backend>* backend);

// Tests only: `hook` runs on every backend the registry builds, before its
// self-test (a test corrupts the backend there to see the self-test refuse
// it); an empty hook removes it. Either way the cached self-test results are
// forgotten, so the next creations test again.
using BackendCreatedHook = std::function<void(Backend& backend)>;
void SetBackendCreatedHookForTesting(BackendCreatedHook hook);

// CreateBackend for a codec of k + m with `matrix` (threads: 0 = one per core).
Status MakeBackend(const std::string& name, int threads, int k, int m, MatrixKind matrix,
                   std::unique_ptr<Backend>* backend);

// `shared` when given (its codec must be k + m with `matrix`: InvalidArgument
// otherwise), else a new backend as MakeBackend builds it.
Status SharedOrNewBackend(const std::shared_ptr<Backend>& shared, const std::string& name,
                          int threads, int k, int m, MatrixKind matrix,
                          std::shared_ptr<Backend>* backend);

}  // namespace fls
