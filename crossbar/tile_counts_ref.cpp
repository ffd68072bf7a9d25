// The counting reference: the test oracle for the fast CPU and the CUDA counters. Kept plain.
#include <vector>

#include "crossbar/tile_counts.h"

namespace stuckat::xbar {

TileCounts& TileCounts::operator+=(const TileCounts& o) {
  nnz += o.nnz;
  tiles += o.tiles;
  nonzero_tiles += o.nonzero_tiles;
  col_segments += o.col_segments;
  nonzero_col_segments += o.nonzero_col_segments;
  row_segments += o.row_segments;
  nonzero_row_segments += o.nonzero_row_segments;
  return *this;
}

bool TileCounts::operator==(const TileCounts& o) const {
  return nnz == o.nnz && tiles == o.tiles && nonzero_tiles == o.nonzero_tiles && col_segments == o.col_segments &&
         nonzero_col_segments == o.nonzero_col_segments && row_segments == o.row_segments &&
         nonzero_row_segments == o.nonzero_row_segments;
}

TileCounts count_tiles_ref(const int64_t* row_ptr, const int32_t* col_idx, int64_t rows, int64_t cols,
                           int64_t tile_rows, int64_t tile_cols) {
  const int64_t row_bands = ceil_div(rows, tile_rows), col_bands = ceil_div(cols, tile_cols);
  std::vector<char> tile(static_cast<size_t>(row_bands * col_bands), 0);
  std::vector<char> col_segment(static_cast<size_t>(row_bands * cols), 0);
  std::vector<char> row_segment(static_cast<size_t>(rows * col_bands), 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = row_ptr[r]; k < row_ptr[r + 1]; ++k) {
      const int64_t c = col_idx[k];
      tile[(r / tile_rows) * col_bands + c / tile_cols] = 1;
      col_segment[(r / tile_rows) * cols + c] = 1;
      row_segment[r * col_bands + c / tile_cols] = 1;
    }
  }
  TileCounts n;
  n.nnz = row_ptr[rows] - row_ptr[0];
  n.tiles = row_bands * col_bands;
  n.col_segments = row_bands * cols;
  n.row_segments = rows * col_bands;
  for (char f : tile) n.nonzero_tiles += f;
  for (char f : col_segment) n.nonzero_col_segments += f;
  for (char f : row_segment) n.nonzero_row_segments += f;
  return n;
}

}  // namespace stuckat::xbar
