#include "kernel_batch.h"

#include <string>

#include "rs_kernel_plan.h"

namespace fls {

Status KernelBatch::Prepare(const MatrixApply& w, std::shared_ptr<const KernelTables> tables) {
  const std::size_t k = w.rows->cols(), r = w.rows->rows();
  if (tables == nullptr || tables->k() != k || tables->r() != r)
    return Status::InvalidArgument(
        "kernel batch: tables for " +
        (tables == nullptr ? std::string("no matrix")
                           : std::to_string(tables->r()) + " x " + std::to_string(tables->k())) +
        " given for a " + std::to_string(r) + " x " + std::to_string(k) + " matrix");
  const std::size_t padded = PaddedBlockBytes(w.block_bytes);
  tables_.reset();  // an empty launch until both buffers are there
  k_ = r_ = 0;
  stripes_ = padded_block_ = 0;
  FLS_RETURN_IF_ERROR(inputs_.Reserve(w.stripes * k * padded).WithContext("kernel inputs"));
  FLS_RETURN_IF_ERROR(outputs_.Reserve(w.stripes * r * padded).WithContext("kernel outputs"));
  tables_ = std::move(tables);
  k_ = static_cast<std::uint32_t>(k);
  r_ = static_cast<std::uint32_t>(r);
  stripes_ = w.stripes;
  padded_block_ = padded;
  return Status::Ok();
}

kernels::MatrixApplyView KernelBatch::view() const {
  return {inputs_.data(), outputs_.data(), tables_ ? tables_->data() : nullptr, k_, r_,
          stripes_,       padded_block_};
}

}  // namespace fls
