// A lower bound on the tiles any mapping needs (any strategy, tiles with arbitrary row and
// column sets). Three counts, the largest wins:
//   cells:   ceil(nnz / (R*C)), the trivial bound;
//   rows:    a row with k nonzeros shows up in at least ceil(k / C) tiles (a tile gives it at most
//            C columns) and a tile has R rows, so tiles >= ceil(sum_r ceil(k_r / C) / R);
//   columns: likewise tiles >= ceil(sum_c ceil(k_c / R) / C).
// On a pruned layer the row bound is the tight one: ~ (nonzero rows) / R instead of nnz / (R*C).
#pragma once
#include <cstdint>

#include "crossbar/sparse_matrix.h"
#include "crossbar/tile_shape.h"

namespace stuckat::xbar {

struct TileLowerBound {
  int64_t cells = 0, rows = 0, cols = 0;
  int64_t best() const { return cells > rows ? (cells > cols ? cells : cols) : (rows > cols ? rows : cols); }
};

TileLowerBound tile_lower_bound(const SparseMatrix& a, TileShape t);

}  // namespace stuckat::xbar
