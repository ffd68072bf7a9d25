// Strategy "none": the matrix tiled in place; the tiles without a nonzero are dropped.
#include <numeric>

#include "crossbar/strategies.h"

namespace stuckat::xbar {

TileAssignment reorder_none(const SparseMatrix& a, TileShape t) {
  std::vector<int32_t> rows(static_cast<size_t>(a.rows)), cols(static_cast<size_t>(a.cols));
  std::iota(rows.begin(), rows.end(), 0);
  std::iota(cols.begin(), cols.end(), 0);
  return assignment_from_orders(a, rows, cols, t);
}

}  // namespace stuckat::xbar
