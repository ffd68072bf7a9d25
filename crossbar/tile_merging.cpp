// First-fit-decreasing tile merging (see tile_merging.h), over a window of recent open bins. Bins count rows and columns exactly
// (a row shared by two merged tiles needs one wordline), with a stamp per row/column.
#include "crossbar/tile_merging.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace stuckat::xbar {

namespace {
constexpr size_t kWindow = 32;  // open bins tried per tile
}  // namespace

TileAssignment merge_tiles(const SparseMatrix& a, const TileAssignment& s, TileShape t) {
  const TileLayout l = build_layout(a, s, t, /*cells=*/false);
  const int64_t tiles = l.tiles();
  auto nrows = [&](int64_t i) { return l.row_ptr[i + 1] - l.row_ptr[i]; };
  auto ncols = [&](int64_t i) { return l.col_ptr[i + 1] - l.col_ptr[i]; };
  std::vector<int64_t> order(static_cast<size_t>(tiles));
  std::iota(order.begin(), order.end(), 0);
  auto fill = [&](int64_t i) { return std::max(nrows(i) * t.cols, ncols(i) * t.rows); };  // fuller side, scaled
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return fill(x) > fill(y); });

  struct Bin {
    std::vector<int32_t> rows, cols;  // sorted, distinct
  };
  std::vector<Bin> bins;
  std::vector<int64_t> bin_of(static_cast<size_t>(tiles));
  std::vector<int64_t> open;  // bins with room on both sides (and some closed ones, skipped)
  std::vector<char> closed;   // per bin
  size_t closed_in_open = 0;
  std::vector<int32_t> merged;
  auto union_size = [&](const std::vector<int32_t>& x, const int32_t* y, int64_t ny) {
    int64_t n = 0, i = 0, j = 0;
    while (i < int64_t(x.size()) || j < ny) {
      if (j == ny || (i < int64_t(x.size()) && x[i] < y[j])) ++i;
      else if (i == int64_t(x.size()) || y[j] < x[i]) ++j;
      else ++i, ++j;
      ++n;
    }
    return n;
  };
  auto merge_into = [&](std::vector<int32_t>& x, const int32_t* y, int64_t ny) {
    merged.clear();
    std::set_union(x.begin(), x.end(), y, y + ny, std::back_inserter(merged));
    x.swap(merged);
  };
  for (int64_t i : order) {
    const int32_t* ri = l.rows.data() + l.row_ptr[i];
    const int32_t* ci = l.cols.data() + l.col_ptr[i];
    int64_t chosen = -1;
    if (nrows(i) < t.rows && ncols(i) < t.cols) {  // a full side cannot share
      // First fit over the most recently opened bins only: bounded work per tile, and the
      // small tiles come last (decreasing order), so recent bins are the ones with room.
      size_t tried = 0;
      for (size_t ob = open.size(); ob-- > 0 && chosen < 0 && tried < kWindow;) {
        if (closed[open[ob]]) continue;
        ++tried;
        const Bin& bin = bins[open[ob]];
        const int64_t br = static_cast<int64_t>(bin.rows.size()), bc = static_cast<int64_t>(bin.cols.size());
        if (br + nrows(i) <= t.rows && bc + ncols(i) <= t.cols) chosen = open[ob];  // fits even without sharing
        else if (union_size(bin.rows, ri, nrows(i)) <= t.rows && union_size(bin.cols, ci, ncols(i)) <= t.cols)
          chosen = open[ob];
      }
    }
    if (chosen < 0) {
      chosen = static_cast<int64_t>(bins.size());
      bins.emplace_back();
      open.push_back(chosen);
      closed.push_back(0);
    }
    merge_into(bins[chosen].rows, ri, nrows(i));
    merge_into(bins[chosen].cols, ci, ncols(i));
    if (int64_t(bins[chosen].rows.size()) >= t.rows || int64_t(bins[chosen].cols.size()) >= t.cols) {
      closed[chosen] = 1;  // full on one side: nothing else fits
      if (++closed_in_open * 2 > open.size()) {  // drop closed bins from the open list now and then
        open.erase(std::remove_if(open.begin(), open.end(), [&](int64_t b) { return closed[b] != 0; }), open.end());
        closed_in_open = 0;
      }
    }
    bin_of[i] = chosen;
  }
  TileAssignment m;
  m.grid_cols = std::max<int64_t>(1, s.grid_cols);
  m.grid_rows = ceil_div(static_cast<int64_t>(bins.size()), m.grid_cols);
  m.tile_of_nonzero.resize(s.tile_of_nonzero.size());
  for (size_t k = 0; k < m.tile_of_nonzero.size(); ++k) m.tile_of_nonzero[k] = bin_of[l.cell_tile[k]];
  return m;
}

}  // namespace stuckat::xbar
