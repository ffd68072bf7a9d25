// Fast tile and segment counting: one pass over the nonzeros of each row band with a stamp
// per column (has this column a nonzero in this band yet?) and per column band (this tile?).
// Stamps hold the band index + 1, so they never need clearing. Row segments: column indices are
// sorted per row, so a row's nonzero tiles are the changes of col / tile_cols along the row.
#include <omp.h>

#include <algorithm>

#include <vector>

#include "crossbar/tile_counts.h"

namespace stuckat::xbar {
namespace {

// Division by the tile width, a shift when it is a power of two (the usual 8/64/128).
struct BandOf {
  int64_t width;
  int shift;
  explicit BandOf(int64_t w) : width(w), shift(-1) {
    if ((w & (w - 1)) == 0)
      for (shift = 0; (int64_t(1) << shift) != w;) ++shift;
  }
  int64_t operator()(int64_t c) const { return shift >= 0 ? c >> shift : c / width; }
};

}  // namespace

TileCounts count_tiles(const int64_t* row_ptr, const int32_t* col_idx, int64_t rows, int64_t cols,
                       int64_t tile_rows, int64_t tile_cols) {
  const int64_t row_bands = ceil_div(rows, tile_rows), col_bands = ceil_div(cols, tile_cols);
  const BandOf band_of(tile_cols);
  int64_t nonzero_tiles = 0, nonzero_col_segments = 0, nonzero_row_segments = 0;
#pragma omp parallel reduction(+ : nonzero_tiles, nonzero_col_segments, nonzero_row_segments)
  {
    // 32-bit stamps: half the cache footprint of the per-column array, which is read at random.
    std::vector<int32_t> col_stamp(static_cast<size_t>(cols), 0), tile_stamp(static_cast<size_t>(col_bands), 0);
#pragma omp for schedule(dynamic, 4)
    for (int64_t b = 0; b < row_bands; ++b) {
      const int32_t stamp = static_cast<int32_t>(b + 1);
      const int64_t r1 = std::min(rows, (b + 1) * tile_rows);
      for (int64_t r = b * tile_rows; r < r1; ++r) {
        int64_t last_band = -1;
        for (int64_t k = row_ptr[r]; k < row_ptr[r + 1]; ++k) {
          const int32_t c = col_idx[k];
          const int64_t cb = band_of(c);
          nonzero_row_segments += cb != last_band;
          last_band = cb;
          if (col_stamp[c] != stamp) {
            col_stamp[c] = stamp;
            ++nonzero_col_segments;
            if (tile_stamp[cb] != stamp) {
              tile_stamp[cb] = stamp;
              ++nonzero_tiles;
            }
          }
        }
      }
    }
  }
  TileCounts n;
  n.nnz = row_ptr[rows] - row_ptr[0];
  n.tiles = row_bands * col_bands;
  n.nonzero_tiles = nonzero_tiles;
  n.col_segments = row_bands * cols;
  n.nonzero_col_segments = nonzero_col_segments;
  n.row_segments = rows * col_bands;
  n.nonzero_row_segments = nonzero_row_segments;
  return n;
}

}  // namespace stuckat::xbar
