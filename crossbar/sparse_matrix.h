// SparseMatrix: the pattern and values of one weight matrix in CSR form, with the crossbar
// convention (docs/DESIGN.md): rows = inputs (wordlines), cols = outputs (bitlines). Column indices
// are sorted within each row and unique. CSC is the CSR of the transpose.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/uninitialized_vector.h"

namespace stuckat::xbar {

struct SparseMatrix {
  std::string name;               // layer name, or the file it came from
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> row_ptr;   // (rows + 1)
  // (nnz) each; resize leaves new entries unset, for the parallel loops that write them in full.
  UninitializedVector<int32_t> col_idx;  // sorted within each row
  UninitializedVector<float> values;
  // A conv layer (out, in, kh, kw) maps row (i*kh + y)*kw + x; kernel_positions = kh*kw so the
  // per-kernel-position slices (rows p, p + K, p + 2K, ...) can be taken. 1 for linear layers.
  int64_t kernel_positions = 1;
  std::string shape;              // the weight's shape as written, e.g. "(64, 3, 3, 3)"

  int64_t nnz() const { return static_cast<int64_t>(col_idx.size()); }
  double density() const { return rows * cols > 0 ? double(nnz()) / (double(rows) * double(cols)) : 0.0; }
};

struct Triplet {
  int64_t row, col;
  float value;
};

// Builds a CSR matrix from (row, col, value) entries in any order. Entries must be in range
// and unique; zero values are kept out. Returns false (leaving *out untouched) when a duplicate
// (row, col) is found and sets *duplicate to it.
bool csr_from_triplets(std::vector<Triplet> entries, int64_t rows, int64_t cols, SparseMatrix* out,
                       Triplet* duplicate = nullptr);

// From a dense row-major (rows, cols) array; exact zeros are left out.
SparseMatrix csr_from_dense(const float* a, int64_t rows, int64_t cols);

// The transpose (equivalently the CSC form of `a`): counting sort by column, O(nnz + cols). With
// values = false only the pattern (values stay empty).
SparseMatrix transpose(const SparseMatrix& a, bool values = true);

// Rows/columns of `a` renumbered: new row i is old row row_order[i] (a permutation of 0..rows-1),
// likewise for columns. The result is again sorted CSR.
SparseMatrix permute(const SparseMatrix& a, const std::vector<int32_t>& row_order,
                     const std::vector<int32_t>& col_order);

// Rows p, p + K, p + 2K, ... of a (in*K, out) conv matrix: the (in, out) slice of kernel position p.
SparseMatrix kernel_position_slice(const SparseMatrix& a, int64_t p);

}  // namespace stuckat::xbar
