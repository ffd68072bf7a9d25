// Predicted vs measured zero fractions (see tile_theory.h).
#include "crossbar/tile_theory.h"

#include <algorithm>
#include <cmath>

namespace stuckat::xbar {

TileTheory tile_theory(const TileCounts& n, double density, TileShape t) {
  TileTheory th;
  th.density = density;
  // log1p keeps (1-d)^(R*C) accurate for the tiny densities of pruned layers.
  const double log_keep = std::log1p(-std::min(density, 1.0));
  auto power = [&](double cells) { return density >= 1.0 ? 0.0 : std::exp(cells * log_keep); };
  th.predicted_zero_col_segment = power(double(t.rows));
  th.predicted_zero_row_segment = power(double(t.cols));
  th.predicted_zero_tile = power(double(t.rows) * double(t.cols));
  auto frac = [](int64_t zero, int64_t total) { return total > 0 ? double(zero) / double(total) : 0.0; };
  th.measured_zero_col_segment = frac(n.col_segments - n.nonzero_col_segments, n.col_segments);
  th.measured_zero_row_segment = frac(n.row_segments - n.nonzero_row_segments, n.row_segments);
  th.measured_zero_tile = frac(n.tiles - n.nonzero_tiles, n.tiles);
  return th;
}

}  // namespace stuckat::xbar
