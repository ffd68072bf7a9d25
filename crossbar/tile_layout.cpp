// Assignment -> explicit tile layout (row/column index maps and the cell of every nonzero).
#include "crossbar/tile_layout.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"

namespace stuckat::xbar {

TileLayout build_layout(const SparseMatrix& a, const TileAssignment& s, TileShape shape, bool cells) {
  const int64_t nnz = a.nnz();
  STUCKAT_CHECK(int64_t(s.tile_of_nonzero.size()) == nnz, "assignment of {} nonzeros for {}", s.tile_of_nonzero.size(),
                nnz);
  std::vector<int32_t> row_of(static_cast<size_t>(nnz));
  for (int64_t r = 0; r < a.rows; ++r)
    for (int64_t k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) row_of[k] = static_cast<int32_t>(r);
  // The nonzeros in tile order, stable: a counting sort over the grid when the grid is not much
  // larger than the nonzeros (every strategy's), else a comparison sort.
  std::vector<int64_t> order(static_cast<size_t>(nnz));
  const int64_t grid = s.grid_rows * s.grid_cols;
  if (grid >= 0 && grid <= 4 * nnz + (int64_t(1) << 20)) {
    std::vector<int64_t> start(static_cast<size_t>(grid) + 1, 0);
    for (int64_t k = 0; k < nnz; ++k) {
      const int64_t key = s.tile_of_nonzero[k];
      STUCKAT_CHECK(key >= 0 && key < grid, "tile key {} outside the {} x {} grid", key, s.grid_rows, s.grid_cols);
      ++start[static_cast<size_t>(key) + 1];
    }
    for (int64_t g = 0; g < grid; ++g) start[g + 1] += start[g];
    for (int64_t k = 0; k < nnz; ++k) order[start[s.tile_of_nonzero[k]]++] = k;
  } else {
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t x, int64_t y) { return s.tile_of_nonzero[x] < s.tile_of_nonzero[y]; });
  }

  TileLayout l;
  l.shape = shape;
  l.grid_rows = s.grid_rows;
  l.grid_cols = s.grid_cols;
  l.row_ptr.push_back(0);
  l.col_ptr.push_back(0);
  l.cell_tile.resize(static_cast<size_t>(nnz));
  if (cells) {
    l.cell_row.resize(static_cast<size_t>(nnz));
    l.cell_col.resize(static_cast<size_t>(nnz));
  }
  std::vector<int32_t> trows, tcols;
  for (int64_t i = 0; i < nnz;) {
    const int64_t key = s.tile_of_nonzero[order[i]];
    STUCKAT_CHECK(key >= 0 && key < s.grid_rows * s.grid_cols, "tile key {} outside the {} x {} grid", key, s.grid_rows,
                  s.grid_cols);
    int64_t end = i;
    trows.clear();
    tcols.clear();
    for (; end < nnz && s.tile_of_nonzero[order[end]] == key; ++end) {
      trows.push_back(row_of[order[end]]);
      tcols.push_back(a.col_idx[order[end]]);
    }
    std::sort(trows.begin(), trows.end());
    trows.erase(std::unique(trows.begin(), trows.end()), trows.end());
    std::sort(tcols.begin(), tcols.end());
    tcols.erase(std::unique(tcols.begin(), tcols.end()), tcols.end());
    STUCKAT_CHECK(int64_t(trows.size()) <= shape.rows && int64_t(tcols.size()) <= shape.cols,
                  "tile {} needs {} rows x {} columns, more than {} x {}", key, trows.size(), tcols.size(), shape.rows,
                  shape.cols);
    const int32_t t = static_cast<int32_t>(l.tile_grid.size());
    for (int64_t j = i; j < end; ++j) {
      const int64_t k = order[j];
      l.cell_tile[k] = t;
      if (!cells) continue;
      l.cell_row[k] = static_cast<int32_t>(std::lower_bound(trows.begin(), trows.end(), row_of[k]) - trows.begin());
      l.cell_col[k] = static_cast<int32_t>(std::lower_bound(tcols.begin(), tcols.end(), a.col_idx[k]) - tcols.begin());
    }
    l.tile_grid.push_back(key);
    l.rows.insert(l.rows.end(), trows.begin(), trows.end());
    l.cols.insert(l.cols.end(), tcols.begin(), tcols.end());
    l.row_ptr.push_back(static_cast<int64_t>(l.rows.size()));
    l.col_ptr.push_back(static_cast<int64_t>(l.cols.size()));
    i = end;
  }
  return l;
}

int64_t count_assigned_tiles(const TileAssignment& s) {
  const int64_t grid = s.grid_rows * s.grid_cols, nnz = static_cast<int64_t>(s.tile_of_nonzero.size());
  if (grid <= std::max<int64_t>(int64_t(1) << 26, 8 * nnz)) {  // a bitmap over the grid: O(nnz + grid / 64)
    std::vector<uint64_t> bits(static_cast<size_t>((grid + 63) / 64), 0);
    for (int64_t key : s.tile_of_nonzero) bits[key >> 6] |= uint64_t(1) << (key & 63);
    int64_t n = 0;
    for (uint64_t w : bits) n += __builtin_popcountll(w);
    return n;
  }
  std::vector<int64_t> keys(s.tile_of_nonzero.begin(), s.tile_of_nonzero.end());
  std::sort(keys.begin(), keys.end());
  return std::unique(keys.begin(), keys.end()) - keys.begin();
}

bool is_order_of(const std::vector<int32_t>& order, int64_t n) {
  std::vector<char> seen(static_cast<size_t>(n), 0);
  int64_t count = 0;
  for (int32_t v : order) {
    if (v < 0) continue;
    if (v >= n || seen[v]) return false;
    seen[v] = 1;
    ++count;
  }
  return count == n;
}

TileAssignment assignment_from_orders(const SparseMatrix& a, const std::vector<int32_t>& row_order,
                                      const std::vector<int32_t>& col_order, TileShape shape) {
  STUCKAT_CHECK(is_order_of(row_order, a.rows) && is_order_of(col_order, a.cols),
                "row/column orders are not permutations of {} x {}", a.rows, a.cols);
  // Each row's band and each column's slot, divided once here rather than per nonzero.
  TileAssignment s;
  s.grid_rows = ceil_div(static_cast<int64_t>(row_order.size()), shape.rows);
  s.grid_cols = ceil_div(static_cast<int64_t>(col_order.size()), shape.cols);
  std::vector<int64_t> row_key(static_cast<size_t>(a.rows)), col_key(static_cast<size_t>(a.cols));
  for (size_t i = 0; i < row_order.size(); ++i)
    if (row_order[i] >= 0) row_key[row_order[i]] = static_cast<int64_t>(i) / shape.rows * s.grid_cols;
  for (size_t i = 0; i < col_order.size(); ++i)
    if (col_order[i] >= 0) col_key[col_order[i]] = static_cast<int64_t>(i) / shape.cols;
  s.tile_of_nonzero.resize(static_cast<size_t>(a.nnz()));
#pragma omp parallel for schedule(static, 256) if (a.nnz() >= (1 << 16))
  for (int64_t r = 0; r < a.rows; ++r)
    for (int64_t k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) s.tile_of_nonzero[k] = row_key[r] + col_key[a.col_idx[k]];
  return s;
}

}  // namespace stuckat::xbar
