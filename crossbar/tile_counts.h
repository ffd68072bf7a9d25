// Tile, column-segment and row-segment counts of a matrix cut into R x C tiles in place.
// A column segment is one column inside one tile (row_bands * cols of them), a row segment one
// row inside one tile (rows * col_bands). "Nonzero" means holding at least one nonzero weight.
#pragma once
#include <cstdint>

#include "crossbar/sparse_matrix.h"
#include "crossbar/tile_shape.h"

namespace stuckat::xbar {

struct TileCounts {
  int64_t nnz = 0;
  int64_t tiles = 0, nonzero_tiles = 0;
  int64_t col_segments = 0, nonzero_col_segments = 0;
  int64_t row_segments = 0, nonzero_row_segments = 0;
  int64_t saved() const { return tiles - nonzero_tiles; }  // all-zero tiles, dropped
  TileCounts& operator+=(const TileCounts& o);
  bool operator==(const TileCounts& o) const;
};

// Reference: one flag per tile / segment, set by every nonzero. Memory O(tiles + segments).
// row_ptr: (rows + 1), col_idx: (nnz) sorted per row, column indices in [0, cols).
TileCounts count_tiles_ref(const int64_t* row_ptr, const int32_t* col_idx, int64_t rows, int64_t cols,
                           int64_t tile_rows, int64_t tile_cols);

// Fast: row bands in parallel (OpenMP), a per-thread stamp per column and per column band,
// memory O(threads * cols). Same signature and bit-identical results as the reference.
TileCounts count_tiles(const int64_t* row_ptr, const int32_t* col_idx, int64_t rows, int64_t cols,
                       int64_t tile_rows, int64_t tile_cols);

inline TileCounts count_tiles(const SparseMatrix& a, TileShape t) {
  return count_tiles(a.row_ptr.data(), a.col_idx.data(), a.rows, a.cols, t.rows, t.cols);
}
inline TileCounts count_tiles_ref(const SparseMatrix& a, TileShape t) {
  return count_tiles_ref(a.row_ptr.data(), a.col_idx.data(), a.rows, a.cols, t.rows, t.cols);
}

}  // namespace stuckat::xbar
