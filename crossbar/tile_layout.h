// How a strategy places a matrix on crossbar tiles.
//
// A strategy answers with a TileAssignment: for every nonzero (in CSR order) the tile that holds
// it, named by the tile's cell in a drawing grid (grid_row, grid_col). A tile holds the nonzeros
// assigned to it on its own wordlines (the distinct rows among them, at most R) and bitlines (the
// distinct columns, at most C); an input row may feed several tiles and an output column may sum
// partial results from several tiles, as in any tiled crossbar mapping.
//
// build_layout turns an assignment into the explicit TileLayout: per tile its row and column
// index maps (tile wordline i <- original row, bitline j <- original column) and per nonzero its
// cell (tile, i, j). verify_layout (layout_verifier.h) checks that this reconstructs the matrix.
#pragma once
#include <cstdint>
#include <vector>

#include "base/uninitialized_vector.h"
#include "crossbar/sparse_matrix.h"
#include "crossbar/tile_shape.h"

namespace stuckat::xbar {

struct TileAssignment {
  int64_t grid_rows = 0, grid_cols = 0;  // drawing grid; every key is < grid_rows * grid_cols
  UninitializedVector<int64_t> tile_of_nonzero;  // (nnz) grid_row * grid_cols + grid_col; resize leaves it unset
};

struct TileLayout {
  TileShape shape;
  int64_t grid_rows = 0, grid_cols = 0;
  std::vector<int64_t> tile_grid;                   // (tiles) grid cell of each tile, increasing
  std::vector<int64_t> row_ptr;                     // (tiles + 1) into rows
  std::vector<int32_t> rows;                        // tile t's wordline i holds original row rows[row_ptr[t] + i]
  std::vector<int64_t> col_ptr;                     // (tiles + 1) into cols
  std::vector<int32_t> cols;                        // tile t's bitline j holds original column cols[col_ptr[t] + j]
  std::vector<int32_t> cell_tile, cell_row, cell_col;  // (nnz) where nonzero k sits: tile, wordline, bitline

  int64_t tiles() const { return static_cast<int64_t>(tile_grid.size()); }
};

// Explicit layout of an assignment. Throws stuckat::Error when a tile would need more than
// shape.rows rows or shape.cols columns (a strategy bug). With cells = false, cell_row and
// cell_col stay empty (tile merging needs only each tile's rows and columns).
TileLayout build_layout(const SparseMatrix& a, const TileAssignment& s, TileShape shape, bool cells = true);

// Number of distinct tiles in the assignment (= build_layout(...).tiles()), without the maps.
int64_t count_assigned_tiles(const TileAssignment& s);

// Position orders -> assignment on the regular grid: position i of row_order holds original row
// row_order[i] or -1 for a padding row (likewise columns); the nonzero at (r, c) goes to tile
// (pos(r) / R, pos(c) / C). Each real row/column must appear exactly once.
TileAssignment assignment_from_orders(const SparseMatrix& a, const std::vector<int32_t>& row_order,
                                      const std::vector<int32_t>& col_order, TileShape shape);

// Row/column positions of a plain permutation check: every index in [0, n) once, others -1.
bool is_order_of(const std::vector<int32_t>& order, int64_t n);

}  // namespace stuckat::xbar
