// GfMatrix: a dense row-major matrix over GF(2^8), and the generator matrices
// fls encodes with. A generator for k data and m parity shards has k + m rows
// and k columns; its top k rows are the identity (the code is systematic), so
// shard i < k is data block i itself and shard k + p is row k + p times the data.
// Thread-safety: a GfMatrix is a value; const methods may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "fls/status.h"

namespace fls {

enum class MatrixKind : std::uint8_t {
  kCauchy = 1,       // ISA-L gf_gen_cauchy1_matrix: parity row i, column j = 1 / (i ^ j)
  kVandermonde = 2,  // Vandermonde V[r][c] = r^c, times inverse of its top k x k block
};

std::string_view MatrixKindName(MatrixKind kind);
// Accepts "cauchy" or "vandermonde".
Status ParseMatrixKind(std::string_view name, MatrixKind* kind);

class GfMatrix {
 public:
  GfMatrix() = default;
  GfMatrix(std::size_t rows, std::size_t cols);  // all zero

  static GfMatrix Identity(std::size_t n);

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  std::uint8_t at(std::size_t r, std::size_t c) const { return cells_[r * cols_ + c]; }
  std::uint8_t& at(std::size_t r, std::size_t c) { return cells_[r * cols_ + c]; }
  std::span<const std::uint8_t> row(std::size_t r) const { return {&cells_[r * cols_], cols_}; }
  const std::vector<std::uint8_t>& cells() const { return cells_; }

  // this (r x n) times other (n x c). InvalidArgument when shapes differ.
  Status Multiply(const GfMatrix& other, GfMatrix* product) const;

  // Inverse of a square matrix by Gauss-Jordan elimination. InvalidArgument
  // ("singular") when no inverse exists, or the matrix is not square.
  Status Invert(GfMatrix* inverse) const;

  // The rows listed, in that order.
  GfMatrix SelectRows(std::span<const int> rows) const;

  bool operator==(const GfMatrix& o) const {
    return rows_ == o.rows_ && cols_ == o.cols_ && cells_ == o.cells_;
  }

 private:
  std::size_t rows_ = 0, cols_ = 0;
  std::vector<std::uint8_t> cells_;
};

// The (k + m) x k systematic generator of `kind`. Requires valid k, m
// (see ValidateCodecShape in codec.h); InvalidArgument otherwise.
Status MakeGenerator(MatrixKind kind, int k, int m, GfMatrix* generator);

}  // namespace fls
