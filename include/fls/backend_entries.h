// What each backend library offers the registry (fls/backend_registry.h):
// its name, whether this binary has it, a probe that says whether this host
// can run it, and a maker. The CPU backends (fallback/) and the CUDA runtime
// (host/cuda/) each define their entries; the registry only lists them in
// `auto`'s preference order, so it depends on the backend libraries and
// never the other way round.
// Thread-safety: entries are immutable; probes and makers may be called
// concurrently.
#pragma once

#include <memory>
#include <string>

#include "fls/backend.h"
#include "fls/codec.h"
#include "fls/status.h"

namespace fls {

struct BackendEntry {
  using ProbeFn = bool (*)(std::string* detail);
  using MakeFn = Status (*)(std::shared_ptr<const Codec> codec, const BackendProfile& profile,
                            std::unique_ptr<Backend>* backend);
  const char* name;
  bool compiled;        // built into this binary
  ProbeFn probe;        // null when not compiled
  MakeFn make;          // null when not compiled
  const char* missing;  // why it is not compiled in
};

// fallback/backend_entries.cc
BackendEntry ReferenceBackendEntry();
BackendEntry IsalBackendEntry();
BackendEntry GfniBackendEntry();
// host/cuda/backend_entries.cc
BackendEntry CudaBackendEntry();
BackendEntry CudaCpuBackendEntry();

}  // namespace fls
