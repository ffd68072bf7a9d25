// Strategy "compact": rows holding a nonzero are swapped together (in their original order) so
// that all-zero rows drop out; the gathered rows form bands of R rows; in each band the all-zero
// columns are moved out and the band's remaining columns (in order) are packed C at a time into
// tiles. A band with D nonzero columns thus needs ceil(D / C) tiles.
#include <vector>

#include "crossbar/strategies.h"

namespace stuckat::xbar {

TileAssignment reorder_compact(const SparseMatrix& a, TileShape t) {
  TileAssignment s;
  s.grid_cols = ceil_div(a.cols, t.cols);
  s.tile_of_nonzero.resize(static_cast<size_t>(a.nnz()));
  // tile_of_col[c]: the tile (within its band) of column c's slot, set when c first shows up in a band.
  std::vector<int64_t> tile_of_col(static_cast<size_t>(a.cols), -1), stamp(static_cast<size_t>(a.cols), -1);
  int64_t band = 0, rows_in_band = 0, cols_in_band = 0;
  for (int64_t r = 0; r < a.rows; ++r) {
    if (a.row_ptr[r] == a.row_ptr[r + 1]) continue;  // all-zero rows are moved out
    if (rows_in_band == t.rows) {
      ++band;
      rows_in_band = cols_in_band = 0;
    }
    ++rows_in_band;
    for (int64_t k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) {
      const int32_t c = a.col_idx[k];
      if (stamp[c] != band) {
        stamp[c] = band;
        tile_of_col[c] = cols_in_band++ / t.cols;
      }
      s.tile_of_nonzero[k] = band * s.grid_cols + tile_of_col[c];
    }
  }
  s.grid_rows = a.nnz() > 0 ? band + 1 : 0;
  return s;
}

int64_t count_compact_tiles(const SparseMatrix& a, TileShape t) {
  // Same walk as reorder_compact with only the per-band distinct-column counts; bands are
  // independent, so each thread takes whole bands (band starts come from one prefix pass).
  std::vector<int64_t> band_start{0};  // first row of each band of R nonzero rows
  int64_t in_band = 0;
  for (int64_t r = 0; r < a.rows; ++r) {
    if (a.row_ptr[r] == a.row_ptr[r + 1]) continue;
    if (in_band == t.rows) {
      band_start.push_back(r);
      in_band = 0;
    }
    ++in_band;
  }
  band_start.push_back(a.rows);
  const int64_t bands = static_cast<int64_t>(band_start.size()) - 1;
  int64_t tiles = 0;
#pragma omp parallel reduction(+ : tiles)
  {
    std::vector<int32_t> stamp(static_cast<size_t>(a.cols), -1);  // band that last saw the column
#pragma omp for schedule(dynamic, 4)
    for (int64_t b = 0; b < bands; ++b) {
      const int32_t band = static_cast<int32_t>(b);
      int64_t distinct = 0;
      for (int64_t k = a.row_ptr[band_start[b]]; k < a.row_ptr[band_start[b + 1]]; ++k) {
        const int32_t c = a.col_idx[k];
        distinct += stamp[c] != band;
        stamp[c] = band;
      }
      tiles += ceil_div(distinct, t.cols);
    }
  }
  return tiles;
}

}  // namespace stuckat::xbar
