// The CUDA backend ("cuda"): Reed-Solomon matrix applies on the GPU.
//
// A batch is cut into sub-batches of about `sub_batch_bytes` input bytes
// (whole stripes, or column ranges of one stripe when a stripe is larger;
// PlanSubBatches in host/cuda/rs_kernel_plan.h). Each sub-batch is staged (on a CPU thread pool)
// into a pinned host buffer in the kernel's padded layout, copied to the device, processed by one
// kernel launch over all its stripes, and copied back, on one of `streams` CUDA streams with its
// own pinned buffers and device KernelBatch (kernel_batch.h); so the copy-in of one sub-batch
// overlaps the kernel and copy-out of the previous ones, and the CPU stages sub-batch i+1 while the
// device works on i. A batch no bigger than one sub-batch is a single launch. The packed product
// tables of each coefficient matrix (encode rows, each erasure pattern's decode rows) are uploaded
// once and cached on the device.
//
// This header needs no CUDA headers; it is included by the registry.
// Thread-safety: Apply calls on one backend are serialized (one set of
// streams and buffers); different backends run concurrently.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "fls/backend.h"

namespace fls {

struct CudaBackendOptions {
  int staging_threads = 0;                 // CPU threads staging data; 0 = one per core
  int streams = 3;                         // sub-batches in flight
  std::size_t sub_batch_bytes = 8u << 20;  // input bytes per launch (at least one stripe)
  bool allow_fixed_kernels = true;         // false: always the generic (k, r) kernel
};

// True when CUDA device 0 answers and can run fls's kernels (sm_80 or newer);
// `detail` then describes it, else says why not ("no CUDA device: ...").
// The result is probed once per process.
bool ProbeCudaDevice(std::string* detail);

// Unavailable (with the probe's reason) when no usable device answers;
// InvalidArgument for bad options.
Status CreateCudaBackend(std::shared_ptr<const Codec> codec, const CudaBackendOptions& options,
                         std::unique_ptr<Backend>* backend);

}  // namespace fls
