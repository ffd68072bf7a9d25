// Strategy "spara": crossbar-bounded graph reordering (Zheng et al., IPDPS 2020). The
// matrix is a bipartite graph, rows -> columns in CSR and columns -> rows in CSC. From the first
// row with unvisited out-edges, gather the unvisited columns of the current source rows (up to
// the column threshold), then the unplaced rows of those columns (up to the row threshold), and
// repeat from the new rows; when the column set is full the block is closed and its rows and
// columns are appended to the orders. A row index advances only once all its out-edges are
// visited. The reordered matrix is tiled on the regular R x C grid.
//
// Rectangles without padding blow-up: with B = min(row bands, column bands) diagonal blocks, a
// block takes ceil(row bands / B) * R rows and ceil(column bands / B) * C columns, so a tall
// (in*K x out) layer pairs each column tile with its share of row bands instead of being padded
// to a square. All-zero rows and columns go last; no tile is added.
#include <algorithm>

#include "crossbar/strategies.h"
#include "base/error.h"

namespace stuckat::xbar {

SparaOrders spara_orders(const SparseMatrix& a, TileShape t) { return spara_orders(a, transpose(a), t); }

SparaOrders spara_orders(const SparseMatrix& a, const SparseMatrix& at, TileShape t) {
  STUCKAT_CHECK(at.rows == a.cols && at.cols == a.rows && at.nnz() == a.nnz(), "spara: the CSC does not fit the matrix");
  const int64_t row_bands = std::max<int64_t>(1, ceil_div(a.rows, t.rows));
  const int64_t col_bands = std::max<int64_t>(1, ceil_div(a.cols, t.cols));
  const int64_t blocks = std::min(row_bands, col_bands);
  const int64_t row_limit = ceil_div(row_bands, blocks) * t.rows, col_limit = ceil_div(col_bands, blocks) * t.cols;

  std::vector<char> placed(static_cast<size_t>(a.rows), 0), visited(static_cast<size_t>(a.cols), 0);
  std::vector<int64_t> cursor(a.row_ptr.begin(), a.row_ptr.end() - 1);  // first possibly unvisited out-edge
  SparaOrders o;
  int64_t block_rows = 0, block_cols = 0;
  auto place = [&](int32_t r) {
    placed[r] = 1;
    o.row_order.push_back(r);
    ++block_rows;
  };
  auto has_unvisited_edge = [&](int64_t r) {
    while (cursor[r] < a.row_ptr[r + 1] && visited[a.col_idx[cursor[r]]]) ++cursor[r];
    return cursor[r] < a.row_ptr[r + 1];
  };
  std::vector<int32_t> frontier, new_cols;
  int64_t start = 0;
  while (true) {
    while (start < a.rows && !(!placed[start] && a.row_ptr[start] < a.row_ptr[start + 1]) && !has_unvisited_edge(start))
      ++start;
    if (start == a.rows) break;
    if (!placed[start]) {
      if (block_rows >= row_limit) block_rows = block_cols = 0;  // rows full: next block
      place(static_cast<int32_t>(start));
    }
    frontier.assign(1, static_cast<int32_t>(start));
    while (!frontier.empty() && block_cols < col_limit) {
      new_cols.clear();
      for (int32_t r : frontier) {
        for (int64_t k = cursor[r]; k < a.row_ptr[r + 1] && block_cols < col_limit; ++k) {
          const int32_t c = a.col_idx[k];
          if (visited[c]) continue;
          visited[c] = 1;
          o.col_order.push_back(c);
          ++block_cols;
          new_cols.push_back(c);
        }
      }
      frontier.clear();
      for (int32_t c : new_cols)
        for (int64_t k = at.row_ptr[c]; k < at.row_ptr[c + 1] && block_rows < row_limit; ++k) {
          const int32_t r = at.col_idx[k];
          if (placed[r]) continue;
          place(r);
          frontier.push_back(r);
        }
    }
    if (block_cols >= col_limit) block_rows = block_cols = 0;  // column set full: next block
  }
  for (int64_t r = 0; r < a.rows; ++r)
    if (!placed[r]) o.row_order.push_back(static_cast<int32_t>(r));
  for (int64_t c = 0; c < a.cols; ++c)
    if (!visited[c]) o.col_order.push_back(static_cast<int32_t>(c));
  return o;
}

TileAssignment reorder_spara(const SparseMatrix& a, TileShape t) {
  const SparaOrders o = spara_orders(a, t);
  return assignment_from_orders(a, o.row_order, o.col_order, t);
}

TileAssignment reorder_spara(const SparseMatrix& a, const SparseMatrix& at, TileShape t) {
  const SparaOrders o = spara_orders(a, at, t);
  return assignment_from_orders(a, o.row_order, o.col_order, t);
}

}  // namespace stuckat::xbar
