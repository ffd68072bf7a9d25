// What independent (Bernoulli) sparsity predicts for tile counts at density d: a column segment
// of a R x C tile has R cells, so P(zero column segment) = (1-d)^R; a row segment has C cells,
// P(zero row segment) = (1-d)^C; P(zero tile) = (1-d)^(R*C). Beside each, the measured fraction.
#pragma once
#include "crossbar/tile_counts.h"

namespace stuckat::xbar {

struct TileTheory {
  double density = 0;
  double predicted_zero_col_segment = 0, measured_zero_col_segment = 0;
  double predicted_zero_row_segment = 0, measured_zero_row_segment = 0;
  double predicted_zero_tile = 0, measured_zero_tile = 0;
};

// density: nnz / (rows * cols) of the matrix the counts were taken on.
TileTheory tile_theory(const TileCounts& n, double density, TileShape t);

}  // namespace stuckat::xbar
