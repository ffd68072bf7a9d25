// CSR construction, transpose, permutation and kernel-position slices.
#include "crossbar/sparse_matrix.h"

#include <omp.h>

#include <algorithm>

#include "base/error.h"

namespace stuckat::xbar {

bool csr_from_triplets(std::vector<Triplet> entries, int64_t rows, int64_t cols, SparseMatrix* out,
                       Triplet* duplicate) {
  std::sort(entries.begin(), entries.end(),
            [](const Triplet& a, const Triplet& b) { return a.row != b.row ? a.row < b.row : a.col < b.col; });
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].row == entries[i - 1].row && entries[i].col == entries[i - 1].col) {
      if (duplicate) *duplicate = entries[i];
      return false;
    }
  }
  SparseMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.row_ptr.assign(static_cast<size_t>(rows) + 1, 0);
  for (const Triplet& t : entries) {
    STUCKAT_CHECK(t.row >= 0 && t.row < rows && t.col >= 0 && t.col < cols, "entry ({}, {}) outside {} x {}", t.row,
                  t.col, rows, cols);
    if (t.value == 0.0f) continue;
    m.row_ptr[static_cast<size_t>(t.row) + 1]++;
    m.col_idx.push_back(static_cast<int32_t>(t.col));
    m.values.push_back(t.value);
  }
  for (int64_t r = 0; r < rows; ++r) m.row_ptr[r + 1] += m.row_ptr[r];
  m.name = out->name;
  *out = std::move(m);
  return true;
}

SparseMatrix csr_from_dense(const float* a, int64_t rows, int64_t cols) {
  SparseMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.row_ptr.assign(static_cast<size_t>(rows) + 1, 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float v = a[r * cols + c];
      if (v == 0.0f) continue;
      m.col_idx.push_back(static_cast<int32_t>(c));
      m.values.push_back(v);
    }
    m.row_ptr[r + 1] = m.nnz();
  }
  return m;
}

SparseMatrix transpose(const SparseMatrix& a, bool values) {
  SparseMatrix t;
  t.name = a.name;
  t.rows = a.cols;
  t.cols = a.rows;
  t.row_ptr.assign(static_cast<size_t>(t.rows) + 1, 0);
  t.col_idx.resize(a.col_idx.size());
  const bool with_values = values && !a.values.empty();
  if (with_values) t.values.resize(a.values.size());
  // Blocks of rows, one per thread: each counts its columns, then writes from its own offsets
  // (block b's entries of a column come after those of blocks < b, so each list stays sorted).
  const int64_t nnz = a.nnz();
  const int blocks = nnz >= (int64_t(1) << 20) ? std::max(1, omp_get_max_threads()) : 1;
  std::vector<int64_t> first_row(static_cast<size_t>(blocks) + 1, a.rows);
  for (int b = 0; b < blocks; ++b)  // block 0 starts at row 0 (the first row_ptr >= 0)
    first_row[size_t(b)] = std::lower_bound(a.row_ptr.begin(), a.row_ptr.end(), nnz * b / blocks) - a.row_ptr.begin();
  std::vector<std::vector<int64_t>> next(static_cast<size_t>(blocks));
#pragma omp parallel for schedule(static, 1) num_threads(blocks)
  for (int b = 0; b < blocks; ++b) {
    std::vector<int64_t>& count = next[size_t(b)];
    count.assign(static_cast<size_t>(t.rows), 0);
    for (int64_t k = a.row_ptr[first_row[size_t(b)]]; k < a.row_ptr[first_row[size_t(b) + 1]]; ++k) ++count[a.col_idx[k]];
  }
  for (int64_t c = 0; c < t.rows; ++c) {
    int64_t at = t.row_ptr[c];
    for (int b = 0; b < blocks; ++b) {
      const int64_t n = next[size_t(b)][c];
      next[size_t(b)][c] = at;
      at += n;
    }
    t.row_ptr[c + 1] = at;
  }
#pragma omp parallel for schedule(static, 1) num_threads(blocks)
  for (int b = 0; b < blocks; ++b) {
    std::vector<int64_t>& mine = next[size_t(b)];
    for (int64_t r = first_row[size_t(b)]; r < first_row[size_t(b) + 1]; ++r)
      for (int64_t k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) {
        const int64_t dst = mine[a.col_idx[k]]++;
        t.col_idx[dst] = static_cast<int32_t>(r);  // rows visited in order, so each list is sorted
        if (with_values) t.values[dst] = a.values[k];
      }
  }
  return t;
}

SparseMatrix permute(const SparseMatrix& a, const std::vector<int32_t>& row_order,
                     const std::vector<int32_t>& col_order) {
  STUCKAT_CHECK(int64_t(row_order.size()) == a.rows && int64_t(col_order.size()) == a.cols,
                "orders of {} and {} for a {} x {} matrix", row_order.size(), col_order.size(), a.rows, a.cols);
  std::vector<int32_t> new_col(static_cast<size_t>(a.cols));
  for (size_t i = 0; i < col_order.size(); ++i) new_col[col_order[i]] = static_cast<int32_t>(i);
  SparseMatrix p;
  p.name = a.name;
  p.rows = a.rows;
  p.cols = a.cols;
  p.row_ptr.assign(static_cast<size_t>(a.rows) + 1, 0);
  p.col_idx.reserve(a.col_idx.size());
  p.values.reserve(a.values.size());
  std::vector<std::pair<int32_t, float>> row;
  for (int64_t i = 0; i < a.rows; ++i) {
    const int32_t r = row_order[i];
    row.clear();
    for (int64_t k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) row.emplace_back(new_col[a.col_idx[k]], a.values[k]);
    std::sort(row.begin(), row.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    for (const auto& e : row) {
      p.col_idx.push_back(e.first);
      p.values.push_back(e.second);
    }
    p.row_ptr[i + 1] = p.nnz();
  }
  return p;
}

SparseMatrix kernel_position_slice(const SparseMatrix& a, int64_t p) {
  const int64_t k = a.kernel_positions;
  STUCKAT_CHECK(p >= 0 && p < k && a.rows % k == 0, "slice {} of a matrix with {} kernel positions", p, k);
  SparseMatrix s;
  s.name = a.name + "[" + std::to_string(p) + "]";
  s.rows = a.rows / k;
  s.cols = a.cols;
  s.row_ptr.assign(static_cast<size_t>(s.rows) + 1, 0);
  for (int64_t i = 0; i < s.rows; ++i) {
    const int64_t r = i * k + p;
    s.col_idx.insert(s.col_idx.end(), a.col_idx.begin() + a.row_ptr[r], a.col_idx.begin() + a.row_ptr[r + 1]);
    s.values.insert(s.values.end(), a.values.begin() + a.row_ptr[r], a.values.begin() + a.row_ptr[r + 1]);
    s.row_ptr[i + 1] = s.nnz();
  }
  return s;
}

}  // namespace stuckat::xbar
