#include "fls/backend_registry.h"

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "backend_self_test.h"
#include "fls/backend_entries.h"

namespace fls {
namespace {

using Entry = BackendEntry;

// In `auto` preference order.
const std::vector<Entry>& Entries() {
  static const std::vector<Entry> entries = {
      CudaBackendEntry(),      GfniBackendEntry(),    IsalBackendEntry(),
      ReferenceBackendEntry(), CudaCpuBackendEntry(),
  };
  return entries;
}

// Backends `auto` never picks: oracles and test vehicles.
bool AutoEligible(const std::string& name) { return name != "reference" && name != "cuda-cpu"; }

// Every backend but the oracle checks itself when first created.
bool SelfTested(const std::string& name) { return name != "reference"; }

// Known-answer self-test results, one per backend variant and shape, so each
// runs once per process; and the test hook.
struct SelfTests {
  std::mutex mu;
  std::map<std::string, Status> results;
  BackendCreatedHook hook;
};

SelfTests& TheSelfTests() {
  static SelfTests* tests = new SelfTests;  // never destroyed: usable from exit handlers
  return *tests;
}

// The cached self-test result for `backend`, running the test the first time.
Status SelfTest(Backend& backend, const std::string& detail) {
  const CodecParams& p = backend.codec().params();
  const std::string key = std::string(backend.name()) + "/" + backend.variant() + "/" +
                          std::to_string(p.k) + "+" + std::to_string(p.m) + "/" +
                          std::to_string(static_cast<int>(p.matrix));
  SelfTests& tests = TheSelfTests();
  {
    std::lock_guard<std::mutex> lock(tests.mu);
    auto it = tests.results.find(key);
    if (it != tests.results.end()) return it->second;
  }
  Status result = SelfTestBackend(backend, detail);  // unlocked: backends may be slow to test
  std::lock_guard<std::mutex> lock(tests.mu);
  tests.results.emplace(key, result);
  return result;
}

// Builds the backend of `e` (probed usable, `detail` its probe's words) and
// runs its self-test; Unavailable with the self-test's report on a mismatch.
Status Build(const Entry& e, const std::string& detail, const BackendProfile& profile,
             std::unique_ptr<Backend>* backend) {
  std::unique_ptr<Codec> codec;
  FLS_RETURN_IF_ERROR(Codec::Create(profile.codec, &codec));
  std::unique_ptr<Backend> made;
  FLS_RETURN_IF_ERROR(e.make(std::shared_ptr<const Codec>(std::move(codec)), profile, &made));
  BackendCreatedHook hook;
  {
    std::lock_guard<std::mutex> lock(TheSelfTests().mu);
    hook = TheSelfTests().hook;
  }
  if (hook) hook(*made);
  if (SelfTested(e.name)) FLS_RETURN_IF_ERROR(SelfTest(*made, detail));
  *backend = std::move(made);
  return Status::Ok();
}

// The first backend in `auto` order that is usable here and passes its
// self-test in `profile`'s shape; a backend that is Unavailable (refused by
// its self-test, or its device failed) is passed over for the next.
Status CreateAuto(const BackendProfile& profile, std::unique_ptr<Backend>* backend,
                  std::string* chosen) {
  std::string refusals;
  for (const Entry& e : Entries()) {
    if (!e.compiled || !AutoEligible(e.name)) continue;
    std::string detail;
    if (!e.probe(&detail)) continue;
    Status s = Build(e, detail, profile, backend);
    if (s.ok()) *chosen = e.name;
    if (s.code() != Status::Code::kUnavailable) return s;
    refusals += (refusals.empty() ? "" : "; ") + s.message();
  }
  return Status::Unavailable("backend 'auto': no usable backend started: " + refusals);
}

}  // namespace

void SetBackendCreatedHookForTesting(BackendCreatedHook hook) {
  SelfTests& tests = TheSelfTests();
  std::lock_guard<std::mutex> lock(tests.mu);
  tests.hook = std::move(hook);
  tests.results.clear();
}

std::vector<BackendInfo> DescribeBackends() {
  std::vector<BackendInfo> out;
  for (const Entry& e : Entries()) {
    BackendInfo info;
    info.name = e.name;
    info.compiled = e.compiled;
    if (e.compiled) {
      info.usable = e.probe(&info.detail);
    } else {
      info.detail = e.missing;
    }
    out.push_back(std::move(info));
  }
  // A backend refused by a self-test that already ran is not usable.
  SelfTests& tests = TheSelfTests();
  std::lock_guard<std::mutex> lock(tests.mu);
  for (const auto& [key, result] : tests.results)
    for (BackendInfo& info : out)
      if (!result.ok() && key.compare(0, info.name.size() + 1, info.name + "/") == 0) {
        info.usable = false;
        info.detail = result.message();
      }
  return out;
}

std::string ResolveAutoBackend() {
  BackendProfile profile;  // the default shape, one thread
  profile.threads = 1;
  std::unique_ptr<Backend> backend;
  std::string chosen;
  return CreateAuto(profile, &backend, &chosen).ok() ? chosen : "isal";
}

Status CreateBackend(const BackendProfile& profile, std::unique_ptr<Backend>* backend) {
  if (profile.threads < 0)
    return Status::InvalidArgument("threads must be 0 (one per core) or more (got " +
                                   std::to_string(profile.threads) + ")");
  if (profile.backend == "auto") {
    std::string chosen;
    return CreateAuto(profile, backend, &chosen);
  }
  for (const Entry& e : Entries()) {
    if (profile.backend != e.name) continue;
    if (!e.compiled) return Status::Unavailable("backend '" + profile.backend + "': " + e.missing);
    std::string detail;
    if (!e.probe(&detail))
      return Status::Unavailable("backend '" + profile.backend + "': " + detail);
    return Build(e, detail, profile, backend);
  }
  std::string known;
  for (const Entry& e : Entries()) known += std::string(known.empty() ? "" : ", ") + e.name;
  return Status::InvalidArgument("unknown backend '" + profile.backend + "' (known: auto, " +
                                 known + ")");
}

Status MakeBackend(const std::string& name, int threads, int k, int m, MatrixKind matrix,
                   std::unique_ptr<Backend>* backend) {
  BackendProfile profile;
  profile.backend = name;
  profile.codec.k = k;
  profile.codec.m = m;
  profile.codec.matrix = matrix;
  profile.threads = threads;
  return CreateBackend(profile, backend);
}

Status SharedOrNewBackend(const std::shared_ptr<Backend>& shared, const std::string& name,
                          int threads, int k, int m, MatrixKind matrix,
                          std::shared_ptr<Backend>* backend) {
  if (!shared) {
    std::unique_ptr<Backend> made;
    FLS_RETURN_IF_ERROR(MakeBackend(name, threads, k, m, matrix, &made));
    *backend = std::move(made);
    return Status::Ok();
  }
  const CodecParams& p = shared->codec().params();
  if (p.k != k || p.m != m || p.matrix != matrix)
    return Status::InvalidArgument(
        "the shared backend codes " + std::to_string(p.k) + " + " + std::to_string(p.m) + " (" +
        std::string(MatrixKindName(p.matrix)) + "), the object needs " + std::to_string(k) + " + " +
        std::to_string(m) + " (" + std::string(MatrixKindName(matrix)) + ")");
  *backend = shared;
  return Status::Ok();
}

}  // namespace fls
