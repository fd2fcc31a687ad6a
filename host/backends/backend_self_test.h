// Known-answer self-test of a backend: small fixed stripes run through the
// backend and through the `reference` backend, compared byte for byte. The
// registry (host/backend_registry.cc) runs it when it first creates an
// optimized backend (gfni, isal, cuda, cuda-cpu) for a shape, so a kernel
// that a compiler, a CPU or a corrupted table makes compute wrong bytes
// refuses to start instead of writing wrong parity.
//
// What runs (about 40 backend calls; docs/ARCHITECTURE.md has the measured
// cost, most of it the reference's arithmetic):
//  - encode in the backend's own k + m, with and without block CRCs, blocks of
//    1, 37, 200 and 330 bytes (1, 37, 130 when k x m > 64): below one vector,
//    the masked tail, the main loop and two steps of it; three stripes, every
//    block at an odd address;
//  - reconstruct in that shape: the first m data shards lost, the last data
//    shard with parity, all parity, and a batch whose stripes lost different
//    shards (one of them none: a present shard recomputed);
//  - the matrix primitive with fixed coefficient matrices of other shapes
//    (k = 4, 8, 12, the unrolled kernels; 7 and 17; 1 to 8 outputs, so more
//    than one pass), with and without block CRCs.
// Every output block is checked byte for byte, every CRC against Crc32c, and
// the 67 bytes after each output block must be untouched.
//
// Thread-safety: SelfTestBackend uses only the backend's thread-safe methods;
// calls may run concurrently.
#pragma once

#include <string>
#include <string_view>

#include "fls/backend.h"
#include "fls/status.h"

namespace fls {

// OK when `backend` agrees with the reference everywhere. Otherwise
// Unavailable: "backend 'NAME' failed its known-answer self-test and refuses
// to start: WHAT (shape, block bytes, stripe, shard, byte, value, expected);
// runs on: HOST_DETAIL; CPU features: ...; compiler: ...". `host_detail` is
// what the registry's probe said about the host (ISA, device).
Status SelfTestBackend(Backend& backend, std::string_view host_detail);

// The compiler that built fls, e.g. "GCC 12.2.0" or "clang 14.0.6" (with
// nvcc's version in CUDA builds).
std::string CompilerDescription();

// The CPU's SIMD features as the kernels see them, with the gfni probe's
// verdict where the gfni backend is built: "pclmul avx2 ...; gfni probe: ...".
std::string CpuFeatureDescription();

}  // namespace fls
