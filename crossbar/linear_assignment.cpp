// Linear assignment by shortest augmenting paths (crossbar/linear_assignment.h). Rows join one at
// a time; each grows a Dijkstra-like tree over the columns on reduced costs
// cost[i][j] - u[i] - v[j] (never negative) until it reaches a free column, then the potentials
// move by the path's length and the matching flips along it.
#include "crossbar/linear_assignment.h"

#include <cmath>
#include <limits>

#include "base/error.h"

namespace stuckat::xbar {

std::vector<int32_t> solve_linear_assignment(const std::vector<double>& cost, int64_t n, int64_t m) {
  STUCKAT_CHECK(n >= 0 && n <= m && static_cast<int64_t>(cost.size()) == n * m,
                "linear assignment of {} rows to {} columns with {} costs", n, m, cost.size());
  for (double c : cost) STUCKAT_CHECK(std::isfinite(c), "linear assignment: a cost is not finite ({})", c);
  if (n == 0) return {};
  const double inf = std::numeric_limits<double>::infinity();
  // 1-based: column 0 is the virtual start of each row's search.
  std::vector<double> u(size_t(n) + 1, 0.0), v(size_t(m) + 1, 0.0), dist(size_t(m) + 1);
  std::vector<int64_t> row_of(size_t(m) + 1, 0), prev(size_t(m) + 1, 0);
  std::vector<char> done(size_t(m) + 1);
  for (int64_t i = 1; i <= n; ++i) {
    row_of[0] = i;
    int64_t j0 = 0;  // the column the tree reached last
    std::fill(dist.begin(), dist.end(), inf);
    std::fill(done.begin(), done.end(), 0);
    do {
      done[size_t(j0)] = 1;
      const int64_t i0 = row_of[size_t(j0)];
      const double* row = cost.data() + (i0 - 1) * m;
      double delta = inf;
      int64_t j1 = 0;
      for (int64_t j = 1; j <= m; ++j) {
        if (done[size_t(j)]) continue;
        const double reduced = row[j - 1] - u[size_t(i0)] - v[size_t(j)];
        if (reduced < dist[size_t(j)]) dist[size_t(j)] = reduced, prev[size_t(j)] = j0;
        if (dist[size_t(j)] < delta) delta = dist[size_t(j)], j1 = j;
      }
      for (int64_t j = 0; j <= m; ++j) {
        if (done[size_t(j)]) {
          u[size_t(row_of[size_t(j)])] += delta;
          v[size_t(j)] -= delta;
        } else {
          dist[size_t(j)] -= delta;
        }
      }
      j0 = j1;
    } while (row_of[size_t(j0)] != 0);
    do {  // flip the matching along the path back to the start
      const int64_t j1 = prev[size_t(j0)];
      row_of[size_t(j0)] = row_of[size_t(j1)];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int32_t> col_of_row(size_t(n), -1);
  for (int64_t j = 1; j <= m; ++j)
    if (row_of[size_t(j)] > 0) col_of_row[size_t(row_of[size_t(j)] - 1)] = static_cast<int32_t>(j - 1);
  return col_of_row;
}

double assignment_cost(const std::vector<double>& cost, int64_t m, const std::vector<int32_t>& col_of_row) {
  double total = 0;
  for (size_t i = 0; i < col_of_row.size(); ++i) total += cost[i * size_t(m) + size_t(col_of_row[i])];
  return total;
}

}  // namespace stuckat::xbar
