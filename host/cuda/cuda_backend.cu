#include "cuda_backend.h"

#include <cuda_runtime.h>
#include <thrust/device_vector.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda_status.h"
#include "fls/thread_pool.h"
#include "rs_kernel_plan.h"
#include "rs_matrix_launch.h"

namespace fls {
namespace {

constexpr std::size_t kMaxCachedTables = 1024;
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

// Page-locked host memory: the only kind cudaMemcpyAsync copies without a
// hidden synchronous bounce, so copies can overlap kernels.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  ~PinnedBuffer() {
    if (data_ != nullptr) cudaFreeHost(data_);
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  Status Reserve(std::size_t bytes) {
    if (bytes <= capacity_) return Status::Ok();
    const std::size_t grown = std::max(bytes, capacity_ * 2);
    if (data_ != nullptr) cudaFreeHost(data_);
    data_ = nullptr;
    capacity_ = 0;
    void* p = nullptr;
    FLS_CUDA_RETURN_IF_ERROR(cudaMallocHost(&p, grown));
    data_ = static_cast<std::uint8_t*>(p);
    capacity_ = grown;
    return Status::Ok();
  }
  std::uint8_t* data() const { return data_; }

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t capacity_ = 0;
};

// Thrust reports failures by exception; fls reports them as Status.
template <typename Fn>
Status ThrustCall(const char* what, Fn fn) {
  try {
    fn();
    return Status::Ok();
  } catch (const std::bad_alloc& e) {
    return Status::Unavailable(std::string(what) + ": device out of memory (" + e.what() + ")");
  } catch (const std::exception& e) {
    return Status::Internal(std::string(what) + ": " + e.what());
  }
}

// Device buffer that only grows (by doubling), so steady batches never
// reallocate. Thrust zero-fills new bytes on the legacy default stream, which
// synchronizes with fls's (blocking) streams.
Status Grow(thrust::device_vector<std::uint8_t>& buf, std::size_t bytes) {
  if (bytes <= buf.size()) return Status::Ok();
  const std::size_t grown = std::max(bytes, buf.size() * 2);
  return ThrustCall("device buffer", [&] {
    buf.clear();  // the old bytes need no copying into the new allocation
    buf.shrink_to_fit();
    buf.resize(grown);
  });
}

using DeviceTables = thrust::device_vector<std::uint32_t>;

class CudaBackend final : public Backend {
 public:
  CudaBackend(std::shared_ptr<const Codec> codec, const CudaBackendOptions& options)
      : Backend(std::move(codec)), options_(options), pool_(options.staging_threads) {}

  ~CudaBackend() override {
    for (Slot& s : slots_)
      if (s.stream != nullptr) {
        cudaStreamSynchronize(s.stream);
        cudaStreamDestroy(s.stream);
      }
  }

  Status Init() {
    FLS_CUDA_RETURN_IF_ERROR(cudaSetDevice(0));
    slots_ = std::vector<Slot>(static_cast<std::size_t>(options_.streams));
    for (Slot& s : slots_) FLS_CUDA_RETURN_IF_ERROR(cudaStreamCreate(&s.stream));
    return Status::Ok();
  }

  std::string_view name() const override { return "cuda"; }
  int threads() const override { return pool_.threads(); }

 protected:
  Status Apply(const MatrixApply& w) override {
    std::lock_guard<std::mutex> lock(mu_);
    FLS_CUDA_RETURN_IF_ERROR(cudaSetDevice(0));
    std::shared_ptr<const DeviceTables> tables;
    FLS_RETURN_IF_ERROR(TablesFor(*w.rows, &tables));
    const std::vector<SubBatch> plan =
        PlanSubBatches(w.stripes, w.rows->cols(), w.block_bytes, options_.sub_batch_bytes);

    Status status;
    std::size_t slot = 0;
    for (const SubBatch& sub : plan) {
      Slot& s = slots_[slot];
      slot = (slot + 1) % slots_.size();
      status = Finish(s, /*copy_out=*/true);
      if (!status.ok()) break;
      s.work = SubBatchWork(w, sub, s.inputs, s.outputs);
      status = Issue(s, tables.get());
      if (!status.ok()) break;
    }
    // Every stream must be idle before returning, even after an error: the
    // caller may free the buffers the moment Apply returns.
    for (Slot& s : slots_) {
      Status st = Finish(s, /*copy_out=*/status.ok());
      if (status.ok()) status = st;
    }
    return status;
  }

 private:
  struct Slot {
    cudaStream_t stream = nullptr;
    PinnedBuffer host_in, host_out;
    thrust::device_vector<std::uint8_t> dev_in, dev_out;
    bool pending = false;
    MatrixApply work;                         // the sub-batch in flight
    std::vector<const std::uint8_t*> inputs;  // its pointer arrays, for column ranges
    std::vector<std::uint8_t*> outputs;
  };

  Status TablesFor(const GfMatrix& rows, std::shared_ptr<const DeviceTables>* out) {
    std::string key(rows.cells().begin(), rows.cells().end());
    key.push_back(static_cast<char>(rows.rows()));  // r x k with equal cells differ by shape
    key.push_back(static_cast<char>(rows.rows() >> 8));
    auto it = tables_.find(key);
    if (it != tables_.end()) {
      *out = it->second;
      return Status::Ok();
    }
    const std::vector<std::uint32_t> host = BuildPackedTables(rows);
    std::shared_ptr<DeviceTables> dev;
    FLS_RETURN_IF_ERROR(ThrustCall(
        "table upload", [&] { dev = std::make_shared<DeviceTables>(host.begin(), host.end()); }));
    if (tables_.size() >= kMaxCachedTables) tables_.clear();
    tables_.emplace(std::move(key), dev);
    *out = std::move(dev);
    return Status::Ok();
  }

  // Stages the slot's sub-batch and queues copy-in, kernel and copy-out on
  // the slot's stream.
  Status Issue(Slot& s, const DeviceTables* tables) {
    const MatrixApply& w = s.work;
    const std::size_t count = w.stripes;
    const std::uint32_t k = static_cast<std::uint32_t>(w.rows->cols());
    const std::uint32_t r = static_cast<std::uint32_t>(w.rows->rows());
    const std::size_t padded = PaddedBlockBytes(w.block_bytes);
    const std::size_t in_bytes = count * k * padded, out_bytes = count * r * padded;
    FLS_RETURN_IF_ERROR(s.host_in.Reserve(in_bytes));
    FLS_RETURN_IF_ERROR(s.host_out.Reserve(out_bytes));
    FLS_RETURN_IF_ERROR(Grow(s.dev_in, in_bytes));
    FLS_RETURN_IF_ERROR(Grow(s.dev_out, out_bytes));

    StageInputs(w, 0, count, s.host_in.data(), pool_);
    std::uint8_t* dev_in = thrust::raw_pointer_cast(s.dev_in.data());
    std::uint8_t* dev_out = thrust::raw_pointer_cast(s.dev_out.data());
    FLS_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(dev_in, s.host_in.data(), in_bytes, cudaMemcpyHostToDevice, s.stream));
    s.pending = true;  // from here on the stream must be drained before reuse
    const kernels::MatrixApplyView view{
        dev_in, dev_out, thrust::raw_pointer_cast(tables->data()), k, r, count, padded};
    FLS_CUDA_RETURN_IF_ERROR(kernels::LaunchMatrixApply(
        view, kernels::ChooseKernelPath(k, r, options_.allow_fixed_kernels), s.stream));
    FLS_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(s.host_out.data(), dev_out, out_bytes, cudaMemcpyDeviceToHost, s.stream));
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
  std::vector<Slot> slots_;
  std::unordered_map<std::string, std::shared_ptr<const DeviceTables>> tables_;
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
