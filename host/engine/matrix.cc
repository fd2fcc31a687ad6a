#include "fls/matrix.h"

#include <string>
#include <utility>

#include "fls/codec.h"
#include "fls/gf256.h"

namespace fls {

std::string_view MatrixKindName(MatrixKind kind) {
  switch (kind) {
    case MatrixKind::kCauchy:
      return "cauchy";
    case MatrixKind::kVandermonde:
      return "vandermonde";
  }
  return "unknown";
}

Status ParseMatrixKind(std::string_view name, MatrixKind* kind) {
  if (name == "cauchy") {
    *kind = MatrixKind::kCauchy;
  } else if (name == "vandermonde") {
    *kind = MatrixKind::kVandermonde;
  } else {
    return Status::InvalidArgument("unknown matrix kind '" + std::string(name) +
                                   "' (expected cauchy or vandermonde)");
  }
  return Status::Ok();
}

GfMatrix::GfMatrix(std::size_t rows, std::size_t cols)
    : rows_(rows), cols_(cols), cells_(rows * cols, 0) {}

GfMatrix GfMatrix::Identity(std::size_t n) {
  GfMatrix m(n, n);
  for (std::size_t i = 0; i < n; ++i) m.at(i, i) = 1;
  return m;
}

Status GfMatrix::Multiply(const GfMatrix& other, GfMatrix* product) const {
  if (cols_ != other.rows_)
    return Status::InvalidArgument("matrix product of " + std::to_string(rows_) + "x" +
                                   std::to_string(cols_) + " by " + std::to_string(other.rows_) +
                                   "x" + std::to_string(other.cols_));
  GfMatrix out(rows_, other.cols_);
  for (std::size_t r = 0; r < rows_; ++r)
    for (std::size_t c = 0; c < other.cols_; ++c) {
      std::uint8_t acc = 0;
      for (std::size_t i = 0; i < cols_; ++i) acc ^= gf::Mul(at(r, i), other.at(i, c));
      out.at(r, c) = acc;
    }
  *product = std::move(out);
  return Status::Ok();
}

Status GfMatrix::Invert(GfMatrix* inverse) const {
  if (rows_ != cols_)
    return Status::InvalidArgument("cannot invert a non-square " + std::to_string(rows_) + "x" +
                                   std::to_string(cols_) + " matrix");
  const std::size_t n = rows_;
  GfMatrix work = *this;
  GfMatrix inv = Identity(n);
  for (std::size_t col = 0; col < n; ++col) {
    std::size_t pivot = col;
    while (pivot < n && work.at(pivot, col) == 0) ++pivot;
    if (pivot == n)
      return Status::InvalidArgument("matrix is singular (no pivot in column " +
                                     std::to_string(col) + ")");
    if (pivot != col)
      for (std::size_t c = 0; c < n; ++c) {
        std::swap(work.at(pivot, c), work.at(col, c));
        std::swap(inv.at(pivot, c), inv.at(col, c));
      }
    const std::uint8_t scale = gf::Inv(work.at(col, col));
    for (std::size_t c = 0; c < n; ++c) {
      work.at(col, c) = gf::Mul(work.at(col, c), scale);
      inv.at(col, c) = gf::Mul(inv.at(col, c), scale);
    }
    for (std::size_t r = 0; r < n; ++r) {
      const std::uint8_t f = work.at(r, col);
      if (r == col || f == 0) continue;
      for (std::size_t c = 0; c < n; ++c) {
        work.at(r, c) ^= gf::Mul(f, work.at(col, c));
        inv.at(r, c) ^= gf::Mul(f, inv.at(col, c));
      }
    }
  }
  *inverse = std::move(inv);
  return Status::Ok();
}

GfMatrix GfMatrix::SelectRows(std::span<const int> rows) const {
  GfMatrix out(rows.size(), cols_);
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t c = 0; c < cols_; ++c) out.at(r, c) = at(static_cast<std::size_t>(rows[r]), c);
  return out;
}

Status MakeGenerator(MatrixKind kind, int k, int m, GfMatrix* generator) {
  FLS_RETURN_IF_ERROR(ValidateCodecShape(k, m));
  const std::size_t n = static_cast<std::size_t>(k + m);
  switch (kind) {
    case MatrixKind::kCauchy: {
      GfMatrix g(n, static_cast<std::size_t>(k));
      for (int i = 0; i < k; ++i) g.at(i, i) = 1;
      for (int i = k; i < k + m; ++i)
        for (int j = 0; j < k; ++j) g.at(i, j) = gf::Inv(static_cast<std::uint8_t>(i ^ j));
      *generator = std::move(g);
      return Status::Ok();
    }
    case MatrixKind::kVandermonde: {
      GfMatrix v(n, static_cast<std::size_t>(k));
      for (std::size_t r = 0; r < n; ++r)
        for (int c = 0; c < k; ++c)
          v.at(r, c) = gf::Pow(static_cast<std::uint8_t>(r), static_cast<unsigned>(c));
      std::vector<int> top(static_cast<std::size_t>(k));
      for (int i = 0; i < k; ++i) top[i] = i;
      GfMatrix top_inverse;
      FLS_RETURN_IF_ERROR(v.SelectRows(top).Invert(&top_inverse));
      return v.Multiply(top_inverse, generator);
    }
  }
  return Status::InvalidArgument("unknown matrix kind " + std::to_string(static_cast<int>(kind)));
}

}  // namespace fls
