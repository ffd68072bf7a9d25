// A sweep's points cut into units of work for the ranks of a distributed sweep: runs of points
// that fault the same layer in the same format (each baseline alone), so a unit reuses the clean
// activations before its layer as a single-process wave does. Units are written as text (the
// point indices, comma-separated) to travel between ranks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sweep/sweep_grid.h"

namespace stuckat::sweep {

// `points` (ascending indices of `grid`) in units of at most max_points each, in order.
std::vector<std::vector<int64_t>> sweep_units(const SweepGrid& grid, const std::vector<int64_t>& points, int64_t max_points);

std::string encode_sweep_unit(const std::vector<int64_t>& points);
// The indices of a unit's text; throws Error when it is not ascending indices of `grid`.
std::vector<int64_t> decode_sweep_unit(const std::string& text, const SweepGrid& grid);

}  // namespace stuckat::sweep
