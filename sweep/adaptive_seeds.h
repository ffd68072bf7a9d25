// Seeds run until a point's accuracy is pinned down: a fault point's accuracy is a random
// variable over fault seeds, so `--seeds auto` runs, for each (format, layer, bit, stuck, rate),
// seeds 0..min-1, then doubles the count (up to max) while the 95% confidence half-width of the
// mean accuracy over the seeds so far is wider than the target. Most points settle after the
// first round; the unstable ones get more seeds.
//
// The grid holds seeds 0..max-1 (so indices, shards and --resume work as for any sweep). The
// decisions are taken only at the round sizes min, 2 min, 4 min, ..., max, each from the first
// that-many seeds, so the points run do not depend on how the work was split, killed or resumed.
#pragma once
#include <cstdint>
#include <vector>

#include "sweep/sweep_grid.h"

namespace stuckat::sweep {

struct AdaptiveSeeds {
  int min_seeds = 3, max_seeds = 30;
  double half_width = 0.005;  // target 95% half-width of the mean accuracy (a fraction: 0.005 = 0.5 points)
};

// The points of the next round, ascending: given which points are done (by index) and their
// accuracies, every point still needed by a cell whose decision says "more". Empty: finished.
// Baselines not done are part of the first round.
std::vector<int64_t> next_adaptive_round(const SweepGrid& grid, const std::vector<char>& done,
                                         const std::vector<double>& accuracy, const AdaptiveSeeds& settings);

}  // namespace stuckat::sweep
