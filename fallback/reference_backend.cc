#include "reference_backend.h"

#include "fls/gf256.h"

namespace fls {

Status ReferenceBackend::Apply(const MatrixApply& w) {
  const std::size_t k = w.rows->cols(), r = w.rows->rows();
  for (std::size_t s = 0; s < w.stripes; ++s) {
    const std::uint8_t* const* in = w.inputs + s * k;
    std::uint8_t* const* out = w.outputs + s * r;
    for (std::size_t i = 0; i < r; ++i) {
      for (std::size_t b = 0; b < w.block_bytes; ++b) {
        std::uint8_t acc = 0;
        for (std::size_t j = 0; j < k; ++j) acc ^= gf::Mul(w.rows->at(i, j), in[j][b]);
        out[i][b] = acc;
      }
    }
  }
  return Status::Ok();
}

}  // namespace fls
