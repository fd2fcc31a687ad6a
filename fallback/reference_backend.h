// ReferenceBackend: Reed-Solomon arithmetic in plain C++, one byte at a time
// through the GF(2^8) product table. Slow and obviously correct: the oracle
// every other backend is tested against (the twin of ISA-L's ec_encode_data_base).
// Thread-safety: stateless beyond the codec; safe to call concurrently.
#pragma once

#include <memory>

#include "fls/backend.h"

namespace fls {

class ReferenceBackend final : public Backend {
 public:
  explicit ReferenceBackend(std::shared_ptr<const Codec> codec) : Backend(std::move(codec)) {}
  std::string_view name() const override { return "reference"; }

 protected:
  Status Apply(const MatrixApply& work) override;
};

}  // namespace fls
