// The tile lower bound (see lower_bound.h).
#include "crossbar/lower_bound.h"

#include <vector>

namespace stuckat::xbar {

TileLowerBound tile_lower_bound(const SparseMatrix& a, TileShape t) {
  TileLowerBound b;
  b.cells = ceil_div(a.nnz(), t.rows * t.cols);
  int64_t row_slots = 0, col_slots = 0;
  std::vector<int64_t> col_count(static_cast<size_t>(a.cols), 0);
  for (int64_t r = 0; r < a.rows; ++r) row_slots += ceil_div(a.row_ptr[r + 1] - a.row_ptr[r], t.cols);
  for (int32_t c : a.col_idx) ++col_count[c];
  for (int64_t n : col_count) col_slots += ceil_div(n, t.rows);
  b.rows = ceil_div(row_slots, t.rows);
  b.cols = ceil_div(col_slots, t.cols);
  return b;
}

}  // namespace stuckat::xbar
