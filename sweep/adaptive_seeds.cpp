// Adaptive seeds (sweep/adaptive_seeds.h).
#include "sweep/adaptive_seeds.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "sweep/sweep_summary.h"

namespace stuckat::sweep {
namespace {

double half_width(const std::vector<double>& acc, int64_t first, int n) {
  double mean = 0;
  for (int i = 0; i < n; ++i) mean += acc[size_t(first + i)] / n;
  double ss = 0;
  for (int i = 0; i < n; ++i) ss += (acc[size_t(first + i)] - mean) * (acc[size_t(first + i)] - mean);
  return n > 1 ? t_quantile_975(n - 1) * std::sqrt(ss / (n - 1)) / std::sqrt(double(n)) : INFINITY;
}

}  // namespace

std::vector<int64_t> next_adaptive_round(const SweepGrid& grid, const std::vector<char>& done,
                                         const std::vector<double>& accuracy, const AdaptiveSeeds& s) {
  const int S = static_cast<int>(grid.seeds.size());
  STUCKAT_CHECK(s.min_seeds >= 2 && s.min_seeds <= s.max_seeds && s.max_seeds == S,
                "adaptive seeds: min {} / max {} for a grid of {} seeds", s.min_seeds, s.max_seeds, S);
  STUCKAT_CHECK(static_cast<int64_t>(done.size()) == grid.size() && done.size() == accuracy.size(),
                "adaptive seeds: {} done flags for a grid of {}", done.size(), grid.size());
  std::vector<int64_t> next;
  const int64_t per = grid.points_per_format(), cells = (per - 1) / S;
  for (size_t f = 0; f < grid.formats.size(); ++f) {
    const int64_t base = static_cast<int64_t>(f) * per;
    if (!done[size_t(base)]) next.push_back(base);
    for (int64_t c = 0; c < cells; ++c) {
      const int64_t first = base + 1 + c * S;
      int prefix = 0;
      while (prefix < S && done[size_t(first + prefix)]) ++prefix;
      // The round this cell is in: [from, to) is the next block of seeds it needs, if any.
      int from = 0, to = s.min_seeds;
      while (prefix >= to) {  // the first `to` seeds are in: decide from them
        if (to == S || half_width(accuracy, first, to) <= s.half_width) {
          to = -1;
          break;
        }
        from = to;
        to = std::min(2 * to, S);
      }
      if (to < 0) continue;
      for (int k = std::max(from, prefix); k < to; ++k)
        if (!done[size_t(first + k)]) next.push_back(first + k);
    }
  }
  std::sort(next.begin(), next.end());
  return next;
}

}  // namespace stuckat::sweep
