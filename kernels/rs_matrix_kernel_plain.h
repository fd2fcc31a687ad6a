// The plain twins of the matrix kernel's per-thread entry points
// (rs_matrix_kernel.cuh), ISA-L's `_base` model: the same signatures, the
// same thread's share of the work, computed the obvious way. ThreadMainPlain
// is the twin of ThreadMainFixed<K, R> and ThreadMainGeneric: each output byte
// of each of the thread's grid-stride items is the XOR over the inputs of
// gf::Mul(coefficient, input byte), one byte at a time, with the coefficient
// read back from the packed tables (entry 1 of a table is the coefficient
// itself, in its row's lane) and no packed lookup or lane unpacking.
// CopyTablesPlain is the twin of CopyTablesCooperative. Host code only
// (never compiled by nvcc); tests/cuda_kernel_twin_test.cc holds each
// per-thread function to its twin over every thread of a grid.
// Thread-safety: pure functions; a thread writes only its own items' columns.
#pragma once

#include <stdint.h>

#include "rs_matrix_kernel.cuh"

namespace fls::kernels {

void ThreadMainPlain(const MatrixApplyView& v, const uint32_t* tables, uint64_t thread,
                     uint64_t threads);

void CopyTablesPlain(uint32_t* dst, const uint32_t* src, uint32_t words, uint32_t thread,
                     uint32_t threads);

}  // namespace fls::kernels
