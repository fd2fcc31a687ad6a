#include "cuda_backend.h"

#include <cuda_runtime.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cuda_memory.h"
#include "cuda_status.h"
#include "fls/thread_pool.h"
#include "kernel_batch.h"
#include "kernel_tables.h"
#include "rs_kernel_plan.h"
#include "rs_matrix_launch.h"

namespace fls {
namespace {

constexpr int kMinComputeMajor = 8;  // the fatbin holds sm_80 and sm_90 code (+ PTX 90)

struct ProbeResult {
  bool usable = false;
  std::string detail;
};

ProbeResult ProbeOnce() {
  ProbeResult r;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    r.detail = "no CUDA device: " + CudaErrorText(err);
    return r;
  }
  if (count == 0) {
    r.detail = "no CUDA device: cudaGetDeviceCount reports 0 devices";
    return r;
  }
  cudaDeviceProp prop{};
  const cudaError_t perr = cudaGetDeviceProperties(&prop, 0);
  if (perr != cudaSuccess) {
    r.detail = "CUDA device 0 does not answer: " + CudaErrorText(perr);
    return r;
  }
  char text[256];
  std::snprintf(text, sizeof(text), "device 0: %s, sm_%d%d, %d SMs, %.1f GiB", prop.name,
                prop.major, prop.minor, prop.multiProcessorCount,
                static_cast<double>(prop.totalGlobalMem) / (1u << 30));
  r.detail = text;
  if (prop.major < kMinComputeMajor) {
    r.detail += "; fls's kernels are built for sm_80 and newer";
    return r;
  }
  r.usable = true;
  return r;
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(std::shared_ptr<const Codec> codec, const CudaBackendOptions& options)
      : Backend(std::move(codec)),
        options_(options),
        pool_(options.staging_threads),
        tables_(CudaDeviceMemory()) {}

  ~CudaBackend() override {
    for (auto& s : slots_)
      if (s->stream != nullptr) {
        cudaStreamSynchronize(s->stream);
        cudaStreamDestroy(s->stream);
      }
  }

  Status Init() {
    FLS_CUDA_RETURN_IF_ERROR(cudaSetDevice(0));
    for (int i = 0; i < options_.streams; ++i) {
      slots_.push_back(std::make_unique<Slot>());
      FLS_CUDA_RETURN_IF_ERROR(cudaStreamCreate(&slots_.back()->stream));
    }
    return Status::Ok();
  }

  std::string_view name() const override { return "cuda"; }
  int threads() const override { return pool_.threads(); }

 protected:
  Status Apply(const MatrixApply& w) override {
    std::lock_guard<std::mutex> lock(mu_);
    FLS_CUDA_RETURN_IF_ERROR(cudaSetDevice(0));
    std::shared_ptr<const KernelTables> tables;
    FLS_RETURN_IF_ERROR(tables_.Get(*w.rows, &tables));
    const std::vector<SubBatch> plan =
        PlanSubBatches(w.stripes, w.rows->cols(), w.block_bytes, options_.sub_batch_bytes);

    Status status;
    std::size_t slot = 0;
    for (const SubBatch& sub : plan) {
      Slot& s = *slots_[slot];
      slot = (slot + 1) % slots_.size();
      status = Finish(s, /*copy_out=*/true);
      if (!status.ok()) break;
      s.work = SubBatchWork(w, sub, s.inputs, s.outputs);
      status = Issue(s, tables);
      if (!status.ok()) break;
    }
    // Every stream must be idle before returning, even after an error: the
    // caller may free the buffers the moment Apply returns.
    for (auto& s : slots_) {
      Status st = Finish(*s, /*copy_out=*/status.ok());
      if (status.ok()) status = st;
    }
    return status;
  }

 private:
  // One stream with its buffers: pinned staging on the host, the launch's
  // device buffers (and view) in its KernelBatch.
  struct Slot {
    cudaStream_t stream = nullptr;
    KernelBuffer host_in{CudaPinnedMemory()}, host_out{CudaPinnedMemory()};
    KernelBatch batch{CudaDeviceMemory()};
    bool pending = false;
    MatrixApply work;                         // the sub-batch in flight
    std::vector<const std::uint8_t*> inputs;  // its pointer arrays, for column ranges
    std::vector<std::uint8_t*> outputs;
  };

  // Stages the slot's sub-batch and queues copy-in, kernel and copy-out on
  // the slot's stream.
  Status Issue(Slot& s, const std::shared_ptr<const KernelTables>& tables) {
    const MatrixApply& w = s.work;
    FLS_RETURN_IF_ERROR(s.batch.Prepare(w, tables));
    const std::size_t in_bytes = s.batch.input_bytes(), out_bytes = s.batch.output_bytes();
    FLS_RETURN_IF_ERROR(s.host_in.Reserve(in_bytes));
    FLS_RETURN_IF_ERROR(s.host_out.Reserve(out_bytes));

    StageInputs(w, 0, w.stripes, s.host_in.data(), pool_);
    FLS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(s.batch.inputs(), s.host_in.data(), in_bytes,
                                             cudaMemcpyHostToDevice, s.stream));
    s.pending = true;  // from here on the stream must be drained before reuse
    FLS_CUDA_RETURN_IF_ERROR(kernels::LaunchMatrixApply(
        s.batch.view(), s.batch.path(options_.allow_fixed_kernels), s.stream));
    FLS_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(s.host_out.data(), s.batch.outputs(), out_bytes,
                                             cudaMemcpyDeviceToHost, s.stream));
    return Status::Ok();
  }

  // Waits for the slot's queued work and, when asked, hands its outputs over.
  Status Finish(Slot& s, bool copy_out) {
    if (!s.pending) return Status::Ok();
    s.pending = false;
    FLS_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(s.stream));
    if (copy_out) UnstageOutputs(s.work, 0, s.work.stripes, s.host_out.data(), pool_);
    return Status::Ok();
  }

  const CudaBackendOptions options_;
  ThreadPool pool_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Slot>> slots_;
  KernelTableCache tables_;  // in device memory
};

}  // namespace

bool ProbeCudaDevice(std::string* detail) {
  static const ProbeResult result = ProbeOnce();
  *detail = result.detail;
  return result.usable;
}

Status CreateCudaBackend(std::shared_ptr<const Codec> codec, const CudaBackendOptions& options,
                         std::unique_ptr<Backend>* backend) {
  if (options.streams < 1)
    return Status::InvalidArgument("cuda backend needs at least 1 stream (got " +
                                   std::to_string(options.streams) + ")");
  if (options.staging_threads < 0)
    return Status::InvalidArgument("cuda backend staging threads must be >= 0 (got " +
                                   std::to_string(options.staging_threads) + ")");
  std::string detail;
  if (!ProbeCudaDevice(&detail)) return Status::Unavailable("backend 'cuda': " + detail);
  auto cuda = std::make_unique<CudaBackend>(std::move(codec), options);
  FLS_RETURN_IF_ERROR(cuda->Init().WithContext("backend 'cuda'"));
  *backend = std::move(cuda);
  return Status::Ok();
}

}  // namespace fls
