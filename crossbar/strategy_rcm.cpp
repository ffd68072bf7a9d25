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
namespace {

// Adjacency of the padded square: rows of A, plus (non-symmetric mode) rows of A^T, merged. Two
// passes over the vertices, in parallel: the merged lists' lengths, then the lists.
void padded_graph(const SparseMatrix& a, bool symmetric_mode, int64_t n, std::vector<int64_t>& ptr,
                  std::vector<int32_t>& adj) {
  const SparseMatrix at = symmetric_mode ? SparseMatrix{} : transpose(a, /*values=*/false);
  // Merges vertex v's two sorted lists, keeping one copy of shared entries; writes them to `out`
  // when given; returns how many.
  auto merged = [&](int64_t v, int32_t* out) {
    const int32_t* x = v < a.rows ? a.col_idx.data() + a.row_ptr[v] : nullptr;
    const int32_t* xe = v < a.rows ? a.col_idx.data() + a.row_ptr[v + 1] : nullptr;
    const int32_t* y = !symmetric_mode && v < at.rows ? at.col_idx.data() + at.row_ptr[v] : nullptr;
    const int32_t* ye = !symmetric_mode && v < at.rows ? at.col_idx.data() + at.row_ptr[v + 1] : nullptr;
    int64_t count = 0;
    while (x != xe || y != ye) {
      int32_t next;
      if (y == ye || (x != xe && *x < *y)) next = *x++;
      else if (x == xe || *y < *x) next = *y++;
      else { next = *x++; ++y; }
      if (out) out[count] = next;
      ++count;
    }
    return count;
  };
  ptr.assign(static_cast<size_t>(n) + 1, 0);
#pragma omp parallel for schedule(static, 1024)
  for (int64_t v = 0; v < n; ++v) ptr[v + 1] = merged(v, nullptr);
  for (int64_t v = 0; v < n; ++v) ptr[v + 1] += ptr[v];
  adj.resize(static_cast<size_t>(ptr[n]));
#pragma omp parallel for schedule(static, 1024)
  for (int64_t v = 0; v < n; ++v) merged(v, adj.data() + ptr[v]);
}

}  // namespace

TileAssignment reorder_rcm(const SparseMatrix& a, TileShape t, bool symmetric_mode) {
  const int64_t n = std::max(a.rows, a.cols);
  std::vector<int64_t> ptr;
  std::vector<int32_t> adj;
  padded_graph(a, symmetric_mode, n, ptr, adj);
  const std::vector<int32_t> perm = reverse_cuthill_mckee(ptr.data(), adj.data(), n);
  std::vector<int32_t> row_order(perm), col_order(perm);
  for (int32_t& v : row_order)
    if (v >= a.rows) v = -1;  // padding row
  for (int32_t& v : col_order)
    if (v >= a.cols) v = -1;  // padding column
  return assignment_from_orders(a, row_order, col_order, t);
}

}  // namespace stuckat::xbar
