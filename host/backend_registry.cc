#include "fls/backend_registry.h"

#include <string>
#include <vector>

#include "fallback/isal_backend.h"
#include "fallback/reference_backend.h"
#include "host/cuda_cpu_backend.h"
#ifdef FLS_HAVE_CUDA
#include "host/cuda/cuda_backend.h"
#endif

namespace fls {
namespace {

using ProbeFn = bool (*)(std::string* detail);
using MakeFn = Status (*)(std::shared_ptr<const Codec> codec, const BackendProfile& profile,
                          std::unique_ptr<Backend>* backend);

struct Entry {
  const char* name;
  bool compiled;
  ProbeFn probe;  // null when not compiled
  MakeFn make;
  const char* missing;  // why it is not compiled in
};

bool AlwaysUsable(std::string* detail) {
  *detail = "CPU";
  return true;
}

Status MakeReference(std::shared_ptr<const Codec> codec, const BackendProfile&,
                     std::unique_ptr<Backend>* backend) {
  *backend = std::make_unique<ReferenceBackend>(std::move(codec));
  return Status::Ok();
}

Status MakeIsal(std::shared_ptr<const Codec> codec, const BackendProfile& profile,
                std::unique_ptr<Backend>* backend) {
  *backend = std::make_unique<IsalBackend>(std::move(codec), profile.threads);
  return Status::Ok();
}

bool CudaCpuUsable(std::string* detail) {
  *detail = "CPU execution of the CUDA kernel source (for testing)";
  return true;
}

Status MakeCudaCpu(std::shared_ptr<const Codec> codec, const BackendProfile& profile,
                   std::unique_ptr<Backend>* backend) {
  CudaCpuOptions options;
  options.threads = profile.threads;
  *backend = std::make_unique<CudaCpuBackend>(std::move(codec), options);
  return Status::Ok();
}

#ifdef FLS_HAVE_CUDA
Status MakeCuda(std::shared_ptr<const Codec> codec, const BackendProfile& profile,
                std::unique_ptr<Backend>* backend) {
  CudaBackendOptions options;
  options.staging_threads = profile.threads;
  return CreateCudaBackend(std::move(codec), options, backend);
}
#endif

// In `auto` preference order.
const std::vector<Entry>& Entries() {
  static const std::vector<Entry> entries = {
#ifdef FLS_HAVE_CUDA
      {"cuda", true, ProbeCudaDevice, MakeCuda, nullptr},
#else
      {"cuda", false, nullptr, nullptr, "built without CUDA (FLS_CUDA=OFF or nvcc not found)"},
#endif
      {"isal", true, AlwaysUsable, MakeIsal, nullptr},
      {"reference", true, AlwaysUsable, MakeReference, nullptr},
      {"cuda-cpu", true, CudaCpuUsable, MakeCudaCpu, nullptr},
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

}  // namespace fls
