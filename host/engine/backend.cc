#include "fls/backend.h"

#include "fls/crc32c.h"

#include <map>
#include <string>
#include <vector>

namespace fls {
namespace {

std::string Str(std::size_t v) { return std::to_string(v); }

Status CheckCommon(std::size_t stripes, std::size_t block_bytes) {
  if (stripes == 0) return Status::InvalidArgument("batch has no stripes");
  if (block_bytes == 0) return Status::InvalidArgument("block size is 0 bytes");
  return Status::Ok();
}

}  // namespace

Status ValidateEncodeBatch(const Codec& codec, const EncodeBatch& b) {
  FLS_RETURN_IF_ERROR(CheckCommon(b.stripes, b.block_bytes));
  const std::size_t k = codec.k(), m = codec.m();
  if (b.data.size() != b.stripes * k)
    return Status::InvalidArgument("encode batch has " + Str(b.data.size()) +
                                   " data buffers, expected stripes x k = " + Str(b.stripes) +
                                   " x " + Str(k));
  if (b.parity.size() != b.stripes * m)
    return Status::InvalidArgument("encode batch has " + Str(b.parity.size()) +
                                   " parity buffers, expected stripes x m = " + Str(b.stripes) +
                                   " x " + Str(m));
  if (!b.block_crcs.empty() && b.block_crcs.size() != b.stripes * (k + m))
    return Status::InvalidArgument("encode batch has " + Str(b.block_crcs.size()) +
                                   " CRC slots, expected stripes x (k + m) = " + Str(b.stripes) +
                                   " x " + Str(k + m));
  for (std::size_t i = 0; i < b.data.size(); ++i)
    if (b.data[i] == nullptr)
      return Status::InvalidArgument("stripe " + Str(i / k) + ": data block " + Str(i % k) +
                                     " is null");
  for (std::size_t i = 0; i < b.parity.size(); ++i)
    if (b.parity[i] == nullptr)
      return Status::InvalidArgument("stripe " + Str(i / m) + ": parity block " + Str(i % m) +
                                     " is null");
  return Status::Ok();
}

Status ValidateReconstructBatch(const Codec& codec, const ReconstructBatch& b) {
  FLS_RETURN_IF_ERROR(CheckCommon(b.stripes, b.block_bytes));
  const std::size_t n = codec.shards();
  if (b.shards.size() != b.stripes * n)
    return Status::InvalidArgument("reconstruct batch has " + Str(b.shards.size()) +
                                   " shard slots, expected stripes x (k + m) = " + Str(b.stripes) +
                                   " x " + Str(n));
  if (b.wanted.empty()) return Status::InvalidArgument("reconstruct batch wants no shard");
  if (b.wanted.size() > n)
    return Status::InvalidArgument("reconstruct batch wants " + Str(b.wanted.size()) +
                                   " shards, more than k + m = " + Str(n));
  if (b.outputs.size() != b.stripes * b.wanted.size())
    return Status::InvalidArgument("reconstruct batch has " + Str(b.outputs.size()) +
                                   " output buffers, expected stripes x wanted = " +
                                   Str(b.stripes) + " x " + Str(b.wanted.size()));
  for (std::size_t i = 0; i < b.outputs.size(); ++i)
    if (b.outputs[i] == nullptr)
      return Status::InvalidArgument("stripe " + Str(i / b.wanted.size()) + ": output for shard " +
                                     std::to_string(b.wanted[i % b.wanted.size()]) + " is null");
  return Status::Ok();
}

Status Backend::Encode(const EncodeBatch& batch) {
  FLS_RETURN_IF_ERROR(ValidateEncodeBatch(*codec_, batch));
  MatrixApply work;
  work.rows = &codec_->parity_rows();
  work.stripes = batch.stripes;
  work.block_bytes = batch.block_bytes;
  work.inputs = batch.data.data();
  work.outputs = batch.parity.data();
  if (!batch.block_crcs.empty()) return ApplyWithCrcs(work, batch.block_crcs);
  return Apply(work);
}

Status Backend::ApplyWithCrcs(const MatrixApply& work, std::span<std::uint32_t> block_crcs) {
  FLS_RETURN_IF_ERROR(Apply(work));
  const std::size_t k = work.rows->cols(), m = work.rows->rows();
  for (std::size_t s = 0; s < work.stripes; ++s) {
    for (std::size_t j = 0; j < k; ++j)
      block_crcs[s * (k + m) + j] = Crc32c(work.inputs[s * k + j], work.block_bytes);
    for (std::size_t p = 0; p < m; ++p)
      block_crcs[s * (k + m) + k + p] = Crc32c(work.outputs[s * m + p], work.block_bytes);
  }
  return Status::Ok();
}

Status Backend::Reconstruct(const ReconstructBatch& batch) {
  FLS_RETURN_IF_ERROR(ValidateReconstructBatch(*codec_, batch));
  const std::size_t n = codec_->shards(), k = codec_->k(), w = batch.wanted.size();

  // Stripes that lost the same shards share one decode plan and one Apply call.
  std::map<std::vector<bool>, std::vector<std::size_t>> groups;
  std::vector<bool> present(n);
  for (std::size_t s = 0; s < batch.stripes; ++s) {
    for (std::size_t i = 0; i < n; ++i) present[i] = batch.shards[s * n + i] != nullptr;
    groups[present].push_back(s);
  }
  std::vector<const std::uint8_t*> inputs;
  std::vector<std::uint8_t*> outputs;
  for (const auto& [mask, stripes] : groups) {
    std::shared_ptr<const DecodePlan> plan;
    Status s = codec_->PlanFor(mask, batch.wanted, &plan);
    if (!s.ok()) return s.WithContext("stripe " + Str(stripes.front()));
    inputs.resize(stripes.size() * k);
    outputs.resize(stripes.size() * w);
    for (std::size_t g = 0; g < stripes.size(); ++g) {
      const std::size_t st = stripes[g];
      for (std::size_t j = 0; j < k; ++j)
        inputs[g * k + j] = batch.shards[st * n + plan->sources[j]];
      for (std::size_t i = 0; i < w; ++i) outputs[g * w + i] = batch.outputs[st * w + i];
    }
    MatrixApply work;
    work.rows = &plan->rows;
    work.stripes = stripes.size();
    work.block_bytes = batch.block_bytes;
    work.inputs = inputs.data();
    work.outputs = outputs.data();
    FLS_RETURN_IF_ERROR(Apply(work));
  }
  return Status::Ok();
}

std::future<Status> Backend::EncodeAsync(const EncodeBatch& batch) {
  return std::async(std::launch::async, [this, batch] { return Encode(batch); });
}

std::future<Status> Backend::ReconstructAsync(const ReconstructBatch& batch) {
  return std::async(std::launch::async, [this, batch] { return Reconstruct(batch); });
}

}  // namespace fls
