#include "fls/backend_registry.h"

#include <string>
#include <vector>

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

}  // namespace

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
  return out;
}

std::string ResolveAutoBackend() {
  for (const BackendInfo& info : DescribeBackends())
    if (info.usable && AutoEligible(info.name)) return info.name;
  return "isal";
}

Status CreateBackend(const BackendProfile& profile, std::unique_ptr<Backend>* backend) {
  if (profile.threads < 0)
    return Status::InvalidArgument("threads must be 0 (one per core) or more (got " +
                                   std::to_string(profile.threads) + ")");
  const std::string name = profile.backend == "auto" ? ResolveAutoBackend() : profile.backend;
  for (const Entry& e : Entries()) {
    if (name != e.name) continue;
    if (!e.compiled) return Status::Unavailable("backend '" + name + "': " + e.missing);
    std::string detail;
    if (!e.probe(&detail)) return Status::Unavailable("backend '" + name + "': " + detail);
    std::unique_ptr<Codec> codec;
    FLS_RETURN_IF_ERROR(Codec::Create(profile.codec, &codec));
    return e.make(std::shared_ptr<const Codec>(std::move(codec)), profile, backend);
  }
  std::string known;
  for (const Entry& e : Entries()) known += std::string(known.empty() ? "" : ", ") + e.name;
  return Status::InvalidArgument("unknown backend '" + name + "' (known: auto, " + known + ")");
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
