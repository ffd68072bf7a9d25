// Strategies "rcm" and "rcm-sym": reverse Cuthill-McKee on the matrix padded to a square of side
// n = max(rows, cols), one symmetric permutation for rows and columns, then tiled on the padded
// n x n grid. Non-symmetric mode orders the graph of A + A^T (vertex i: row i and column i);
// symmetric mode, like scipy's symmetric_mode=True, follows A's own rows as the adjacency.
// On a tall layer (rows >> cols) the real columns get spread over the padded width, which can
// cost far more tiles than "none"; the report shows it as it is.
#include <algorithm>

#include "crossbar/rcm_ordering.h"
#include "crossbar/strategies.h"

namespace stuckat::xbar {

TileAssignment reorder_rcm(const SparseMatrix& a, TileShape t, bool symmetric_mode) {
  const int64_t n = std::max(a.rows, a.cols);
  // Vertex v's neighbours: row v of A, and (non-symmetric mode) row v of A^T.
  const SparseMatrix at = symmetric_mode ? SparseMatrix{} : transpose(a, /*values=*/false);
  const std::vector<int32_t> perm = reverse_cuthill_mckee(AdjacencyLists{a.row_ptr.data(), a.col_idx.data(), a.rows},
                                                          AdjacencyLists{at.row_ptr.data(), at.col_idx.data(), at.rows}, n);
  std::vector<int32_t> row_order(perm), col_order(perm);
  for (int32_t& v : row_order)
    if (v >= a.rows) v = -1;  // padding row
  for (int32_t& v : col_order)
    if (v >= a.cols) v = -1;  // padding column
  return assignment_from_orders(a, row_order, col_order, t);
}

}  // namespace stuckat::xbar
