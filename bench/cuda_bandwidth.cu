// fls_cuda_bandwidth: the limits the CUDA backend is measured against, and
// the matrix kernel alone, all on CUDA device 0 in one run. Prints JSON lines:
//   {"test":"device", ...}                  what was measured on
//   {"test":"d2d_copy", "copy_gbps", ...}   cudaMemcpy device -> device
//   {"test":"h2d_pinned", "gbps", ...}      cudaMemcpy pinned host -> device
//   {"test":"d2h_pinned", "gbps", ...}      cudaMemcpy device -> pinned host
//   {"test":"kernel", "data_gbps", ...}     one launch over a device-resident batch
// Rates are in 10^9 bytes per second. copy_gbps counts bytes copied (each is
// read once and written once); a kernel's data_gbps counts k x block bytes
// per second (as `fls bench codec` does) and its traffic_gbps the bytes it
// reads and writes, (k + r) x block; vs_copy = traffic / (2 x copy_gbps) is
// the share of the device's copy memory traffic the kernel reaches.
// Every kernel result is checked before it is printed: two stripes against
// a CPU computation, the whole batch against the generic kernel
// (thrust::equal on the device). Timing: cudaEvents around back-to-back
// launches or copies.
#include <cuda_runtime.h>
#include <thrust/device_vector.h>
#include <thrust/equal.h>
#include <thrust/tabulate.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fls/codec.h"
#include "fls/gf256.h"
#include "host/cuda/cuda_status.h"
#include "host/cuda/rs_kernel_plan.h"
#include "kernels/rs_matrix_launch.h"

namespace fls {
namespace {

struct Options {
  std::size_t copy_bytes = std::size_t{1} << 30;     // device-to-device copy size
  std::size_t host_bytes = std::size_t{256} << 20;   // pinned transfer size
  std::size_t batch_bytes = std::size_t{256} << 20;  // kernel data bytes per launch
  double min_seconds = 0.3;
  std::vector<std::pair<int, int>> shapes{{10, 4}, {6, 3}, {17, 3}};
  std::vector<std::size_t> blocks{64 << 10, 1 << 20, 16 << 20};
  std::vector<int> lost{1, 4};
  bool kernel_only = false;  // skip the copy measurements
};

// Fills a device buffer with bytes of a 64-bit mix of their index: random
// enough for GF arithmetic, reproducible, and generated on the device.
struct MixByte {
  unsigned long long seed;
  __host__ __device__ std::uint8_t operator()(std::size_t i) const {
    unsigned long long z = seed + 0x9e3779b97f4a7c15ull * (i + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return static_cast<std::uint8_t>(z ^ (z >> 31));
  }
};

class Events {
 public:
  Events() {
    cudaEventCreate(&start_);
    cudaEventCreate(&stop_);
  }
  ~Events() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  cudaEvent_t start() const { return start_; }
  cudaEvent_t stop() const { return stop_; }
  Status Seconds(double* s) {
    FLS_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(stop_));
    float ms = 0;
    FLS_CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms, start_, stop_));
    *s = ms / 1e3;
    return Status::Ok();
  }

 private:
  cudaEvent_t start_{}, stop_{};
};

// Times `reps` calls of `op` (enqueued on `stream`), after one warm-up; the
// repetition count grows until the run lasts min_seconds.
template <typename Op>
Status TimeOnStream(cudaStream_t stream, double min_seconds, Op op, int* reps_out,
                    double* seconds_out) {
  Events ev;
  FLS_CUDA_RETURN_IF_ERROR(op());
  FLS_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
  int reps = 1;
  for (;;) {
    FLS_CUDA_RETURN_IF_ERROR(cudaEventRecord(ev.start(), stream));
    for (int i = 0; i < reps; ++i) FLS_CUDA_RETURN_IF_ERROR(op());
    FLS_CUDA_RETURN_IF_ERROR(cudaEventRecord(ev.stop(), stream));
    double s = 0;
    FLS_RETURN_IF_ERROR(ev.Seconds(&s));
    if (s >= min_seconds || reps >= (1 << 20)) {
      *reps_out = reps;
      *seconds_out = s;
      return Status::Ok();
    }
    reps =
        s > 0 ? std::max(reps * 2, static_cast<int>(reps * min_seconds / s * 1.1) + 1) : reps * 10;
  }
}

template <typename Fn>
Status Thrust(const char* what, Fn fn) {
  try {
    fn();
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string(what) + ": " + e.what());
  }
}

Status MeasureCopies(const Options& o, cudaStream_t stream, double* d2d_copy_gbps) {
  thrust::device_vector<std::uint8_t> a, b;
  FLS_RETURN_IF_ERROR(Thrust("copy buffers", [&] {
    a.resize(o.copy_bytes);
    b.resize(o.copy_bytes);
    thrust::tabulate(a.begin(), a.end(), MixByte{1});
  }));
  std::uint8_t* pa = thrust::raw_pointer_cast(a.data());
  std::uint8_t* pb = thrust::raw_pointer_cast(b.data());
  int reps = 0;
  double s = 0;
  FLS_RETURN_IF_ERROR(TimeOnStream(
      stream, o.min_seconds,
      [&] { return cudaMemcpyAsync(pb, pa, o.copy_bytes, cudaMemcpyDeviceToDevice, stream); },
      &reps, &s));
  *d2d_copy_gbps = double(o.copy_bytes) * reps / s / 1e9;
  std::printf(
      "{\"source\":\"fls_cuda_bandwidth\",\"test\":\"d2d_copy\",\"bytes\":%zu,\"reps\":%d,"
      "\"seconds\":%.6f,\"copy_gbps\":%.3f,\"traffic_gbps\":%.3f}\n",
      o.copy_bytes, reps, s, *d2d_copy_gbps, 2 * *d2d_copy_gbps);

  void* host = nullptr;
  FLS_CUDA_RETURN_IF_ERROR(cudaMallocHost(&host, o.host_bytes));
  std::unique_ptr<void, cudaError_t (*)(void*)> pinned(host, cudaFreeHost);
  std::memset(host, 0x5a, o.host_bytes);
  for (const bool to_device : {true, false}) {
    FLS_RETURN_IF_ERROR(TimeOnStream(
        stream, o.min_seconds,
        [&] {
          return to_device
                     ? cudaMemcpyAsync(pa, host, o.host_bytes, cudaMemcpyHostToDevice, stream)
                     : cudaMemcpyAsync(host, pa, o.host_bytes, cudaMemcpyDeviceToHost, stream);
        },
        &reps, &s));
    std::printf(
        "{\"source\":\"fls_cuda_bandwidth\",\"test\":\"%s\",\"bytes\":%zu,\"reps\":%d,"
        "\"seconds\":%.6f,\"gbps\":%.3f}\n",
        to_device ? "h2d_pinned" : "d2h_pinned", o.host_bytes, reps, s,
        double(o.host_bytes) * reps / s / 1e9);
  }
  std::fflush(stdout);
  return Status::Ok();
}

// outputs == rows x inputs for stripe `s`, checked byte by byte on the CPU.
Status CheckStripe(const GfMatrix& rows, const thrust::device_vector<std::uint8_t>& in,
                   const thrust::device_vector<std::uint8_t>& out, std::size_t s, std::size_t block,
                   std::size_t padded) {
  const std::size_t k = rows.cols(), r = rows.rows();
  std::vector<std::uint8_t> hin(k * padded), hout(r * padded);
  FLS_CUDA_RETURN_IF_ERROR(cudaMemcpy(hin.data(),
                                      thrust::raw_pointer_cast(in.data()) + s * k * padded,
                                      hin.size(), cudaMemcpyDeviceToHost));
  FLS_CUDA_RETURN_IF_ERROR(cudaMemcpy(hout.data(),
                                      thrust::raw_pointer_cast(out.data()) + s * r * padded,
                                      hout.size(), cudaMemcpyDeviceToHost));
  const std::uint8_t* mul = gf::MulTable();
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t b = 0; b < block; ++b) {
      std::uint8_t acc = 0;
      for (std::size_t j = 0; j < k; ++j) acc ^= mul[rows.at(i, j) * 256 + hin[j * padded + b]];
      if (acc != hout[i * padded + b])
        return Status::Internal("kernel output differs from the CPU at stripe " +
                                std::to_string(s) + ", row " + std::to_string(i) + ", byte " +
                                std::to_string(b));
    }
  return Status::Ok();
}

Status MeasureKernels(const Options& o, cudaStream_t stream, double d2d_copy_gbps) {
  for (auto [k, m] : o.shapes) {
    std::unique_ptr<Codec> codec;
    FLS_RETURN_IF_ERROR(Codec::Create({k, m, MatrixKind::kCauchy}, &codec));
    for (std::size_t block : o.blocks) {
      const std::size_t padded = PaddedBlockBytes(block);
      const std::size_t stripes = std::max<std::size_t>(1, o.batch_bytes / (k * padded));
      thrust::device_vector<std::uint8_t> in, out;
      FLS_RETURN_IF_ERROR(Thrust("kernel buffers", [&] {
        in.resize(stripes * k * padded);
        out.resize(stripes * m * padded);
        thrust::tabulate(in.begin(), in.end(), MixByte{static_cast<unsigned long long>(block)});
      }));
      // encode: the parity rows; reconstruct: the decode rows of `lost` data shards.
      std::vector<std::pair<int, GfMatrix>> cases{{0, codec->parity_rows()}};
      for (int lost : o.lost) {
        if (lost < 1 || lost > m) continue;
        std::vector<bool> present(k + m, true);
        std::vector<int> wanted;
        for (int i = 0; i < lost; ++i) {
          present[i] = false;
          wanted.push_back(i);
        }
        std::shared_ptr<const DecodePlan> plan;
        FLS_RETURN_IF_ERROR(codec->PlanFor(present, wanted, &plan));
        cases.push_back({lost, plan->rows});
      }
      for (const auto& [lost, rows] : cases) {
        const std::uint32_t r = static_cast<std::uint32_t>(rows.rows());
        const std::vector<std::uint32_t> host_tables = BuildPackedTables(rows);
        thrust::device_vector<std::uint32_t> tables;
        FLS_RETURN_IF_ERROR(
            Thrust("tables", [&] { tables.assign(host_tables.begin(), host_tables.end()); }));
        const kernels::MatrixApplyView view{thrust::raw_pointer_cast(in.data()),
                                            thrust::raw_pointer_cast(out.data()),
                                            thrust::raw_pointer_cast(tables.data()),
                                            static_cast<std::uint32_t>(k),
                                            r,
                                            stripes,
                                            padded};
        const kernels::KernelPath path = kernels::ChooseKernelPath(k, r, true);
        int reps = 0;
        double s = 0;
        FLS_RETURN_IF_ERROR(TimeOnStream(
            stream, o.min_seconds, [&] { return kernels::LaunchMatrixApply(view, path, stream); },
            &reps, &s));
        FLS_RETURN_IF_ERROR(CheckStripe(rows, in, out, stripes - 1, block, padded));
        FLS_RETURN_IF_ERROR(
            CheckStripe(rows, in, out, 0, std::min<std::size_t>(block, 1 << 20), padded));
        // The whole batch, compared on the device: the generic kernel must
        // give the unrolled one's bytes.
        if (path == kernels::KernelPath::kFixed) {
          const kernels::KernelPath generic = kernels::ChooseKernelPath(k, r, false);
          thrust::device_vector<std::uint8_t> again;
          bool same = false;
          FLS_RETURN_IF_ERROR(Thrust("generic check", [&] { again.resize(out.size()); }));
          kernels::MatrixApplyView second = view;
          second.outputs = thrust::raw_pointer_cast(again.data());
          FLS_CUDA_RETURN_IF_ERROR(kernels::LaunchMatrixApply(second, generic, stream));
          FLS_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
          FLS_RETURN_IF_ERROR(Thrust("generic check", [&] {
            const std::size_t used = stripes * r * padded;
            same = thrust::equal(out.begin(), out.begin() + used, again.begin());
          }));
          if (!same)
            return Status::Internal("generic and fixed kernels differ for " + std::to_string(k) +
                                    "+" + std::to_string(m) + ", block " + std::to_string(block));
        }
        const double data_gbps = double(k) * block * stripes * reps / s / 1e9;
        const double traffic_gbps = data_gbps * (k + r) / k;
        std::printf(
            "{\"source\":\"fls_cuda_bandwidth\",\"test\":\"kernel\",\"op\":\"%s\",\"k\":%d,"
            "\"m\":%d,\"lost\":%d,\"rows\":%u,\"block_bytes\":%zu,\"stripes\":%zu,"
            "\"path\":\"%s\",\"reps\":%d,\"seconds\":%.6f,\"data_gbps\":%.3f,"
            "\"traffic_gbps\":%.3f,\"d2d_copy_gbps\":%.3f,\"vs_copy\":%.4f}\n",
            lost == 0 ? "encode" : "reconstruct", k, m, lost, r, block, stripes,
            path == kernels::KernelPath::kFixed           ? "fixed"
            : path == kernels::KernelPath::kGenericShared ? "generic-shared"
                                                          : "generic-global",
            reps, s, data_gbps, traffic_gbps, d2d_copy_gbps,
            d2d_copy_gbps > 0 ? traffic_gbps / (2 * d2d_copy_gbps) : 0.0);
        std::fflush(stdout);
      }
    }
  }
  return Status::Ok();
}

Status Run(const Options& o) {
  int count = 0;
  FLS_CUDA_RETURN_IF_ERROR(cudaGetDeviceCount(&count));
  if (count == 0) return Status::Unavailable("no CUDA device: cudaGetDeviceCount reports 0");
  FLS_CUDA_RETURN_IF_ERROR(cudaSetDevice(0));
  cudaDeviceProp prop{};
  FLS_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, 0));
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  std::printf(
      "{\"source\":\"fls_cuda_bandwidth\",\"test\":\"device\",\"name\":\"%s\",\"sm\":\"%d%d\","
      "\"sms\":%d,\"memory_bytes\":%zu,\"driver\":%d,\"runtime\":%d}\n",
      prop.name, prop.major, prop.minor, prop.multiProcessorCount, prop.totalGlobalMem, driver,
      runtime);
  cudaStream_t stream = nullptr;
  FLS_CUDA_RETURN_IF_ERROR(cudaStreamCreate(&stream));
  double d2d = 0;
  Status s;
  if (!o.kernel_only) s = MeasureCopies(o, stream, &d2d);
  if (s.ok()) s = MeasureKernels(o, stream, d2d);
  cudaStreamDestroy(stream);
  return s;
}

bool ParseSize(const char* text, std::size_t* out) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || v <= 0) return false;
  double mult = 1;
  const std::string unit(end);
  if (unit == "K")
    mult = 1 << 10;
  else if (unit == "M")
    mult = 1 << 20;
  else if (unit == "G")
    mult = 1 << 30;
  else if (!unit.empty())
    return false;
  *out = static_cast<std::size_t>(v * mult);
  return *out > 0;
}

}  // namespace
}  // namespace fls

int main(int argc, char** argv) {
  fls::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    bool ok = true;
    if (arg == "--kernel-only") {
      o.kernel_only = true;
      continue;
    } else if (arg == "--copy-bytes" && value) {
      ok = fls::ParseSize(value, &o.copy_bytes);
    } else if (arg == "--host-bytes" && value) {
      ok = fls::ParseSize(value, &o.host_bytes);
    } else if (arg == "--batch-bytes" && value) {
      ok = fls::ParseSize(value, &o.batch_bytes);
    } else if (arg == "--min-seconds" && value) {
      o.min_seconds = std::atof(value);
      ok = o.min_seconds > 0;
    } else {
      std::fprintf(stderr,
                   "usage: fls_cuda_bandwidth [--kernel-only] [--copy-bytes N[K|M|G]] "
                   "[--host-bytes N] [--batch-bytes N] [--min-seconds S]\n");
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "fls_cuda_bandwidth: bad value '%s' for %s\n", value, arg.c_str());
      return 2;
    }
    ++i;
  }
  const fls::Status s = fls::Run(o);
  if (!s.ok()) {
    std::fprintf(stderr, "fls_cuda_bandwidth: %s\n", s.ToString().c_str());
    return s.code() == fls::Status::Code::kUnavailable ? 3 : 1;
  }
  return 0;
}
