// The registry entries of the CPU backends (fls/backend_entries.h).
#include "fls/backend_entries.h"

#include <cstdlib>
#include <string>

#if FLS_HAVE_GFNI
#include "gfni_backend.h"
#endif
#include "isal_backend.h"
#include "reference_backend.h"

namespace fls {
namespace {

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

#if FLS_HAVE_GFNI
bool ProbeGfni(std::string* detail) {
  GfniBackend::Isa isa;
  return GfniBackend::Probe(&isa, detail);
}

// The widest ISA the CPU runs, unless FLS_GFNI_ISA (avx512 | avx2) names one:
// that forces the AVX2 kernels on an AVX-512 CPU, for tests and comparisons.
Status MakeGfni(std::shared_ptr<const Codec> codec, const BackendProfile& profile,
                std::unique_ptr<Backend>* backend) {
  GfniBackend::Isa isa;
  std::string detail;
  if (!GfniBackend::Probe(&isa, &detail)) return Status::Unavailable("backend 'gfni': " + detail);
  if (const char* forced = std::getenv("FLS_GFNI_ISA"); forced != nullptr && *forced != 0)
    FLS_RETURN_IF_ERROR(GfniBackend::ParseIsa(forced, &isa).WithContext("FLS_GFNI_ISA"));
  std::unique_ptr<GfniBackend> gfni;
  FLS_RETURN_IF_ERROR(GfniBackend::Create(std::move(codec), profile.threads, isa, &gfni));
  *backend = std::move(gfni);
  return Status::Ok();
}
#endif

}  // namespace

BackendEntry ReferenceBackendEntry() {
  return {"reference", true, AlwaysUsable, MakeReference, nullptr};
}

BackendEntry IsalBackendEntry() { return {"isal", true, AlwaysUsable, MakeIsal, nullptr}; }

BackendEntry GfniBackendEntry() {
#if FLS_HAVE_GFNI
  return {"gfni", true, ProbeGfni, MakeGfni, nullptr};
#else
  return {"gfni", false, nullptr, nullptr,
          "not built: needs an x86-64 compiler with -mgfni -mavx512*"};
#endif
}

}  // namespace fls
