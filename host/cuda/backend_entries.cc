// The registry entries of the CUDA runtime (fls/backend_entries.h): `cuda`
// on a device, and `cuda-cpu`, the same kernel source run on the CPU.
#include "fls/backend_entries.h"

#include <string>

#include "cuda_cpu_backend.h"
#ifdef FLS_HAVE_CUDA
#include "cuda_backend.h"
#endif

namespace fls {
namespace {

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

}  // namespace

BackendEntry CudaBackendEntry() {
#ifdef FLS_HAVE_CUDA
  return {"cuda", true, ProbeCudaDevice, MakeCuda, nullptr};
#else
  return {"cuda", false, nullptr, nullptr, "built without CUDA (FLS_CUDA=OFF or nvcc not found)"};
#endif
}

BackendEntry CudaCpuBackendEntry() {
  return {"cuda-cpu", true, CudaCpuUsable, MakeCudaCpu, nullptr};
}

}  // namespace fls
