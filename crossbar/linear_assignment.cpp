// Linear assignment by shortest augmenting paths (crossbar/linear_assignment.h).
//
// Rows are added one at a time to an optimal partial matching. The potentials u (rows) and v
// (columns) keep every reduced cost cost[i][j] - u[i] - v[j] >= 0 and every matched edge at 0, so
// a Dijkstra search from the new row over reduced costs finds the cheapest alternating path to a
// free column. Flipping the matching along that path and shifting the potentials by the search
// distances keeps both invariants, hence the matching stays optimal after every row.
#include "crossbar/linear_assignment.h"

#include <cmath>
#include <limits>
#include <utility>

#include "base/error.h"

namespace stuckat::xbar {

std::vector<int32_t> solve_linear_assignment(const std::vector<double>& cost, int64_t n, int64_t m) {
  STUCKAT_CHECK(n >= 0 && n <= m && m <= std::numeric_limits<int32_t>::max(),
                "linear assignment of {} rows to {} columns: needs 0 <= rows <= columns < 2^31", n, m);
  STUCKAT_CHECK(static_cast<int64_t>(cost.size()) == n * m, "linear assignment: {} costs for a {} x {} matrix",
                cost.size(), n, m);
  for (size_t k = 0; k < cost.size(); ++k)
    STUCKAT_CHECK(std::isfinite(cost[k]), "linear assignment: cost[{}] = {} is not finite", k, cost[k]);
  if (n == 0) return {};

  const size_t rows = size_t(n), cols = size_t(m);
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(rows, 0.0), v(cols, 0.0);
  std::vector<int32_t> col_of_row(rows, -1), row_of_col(cols, -1);
  // Per search: dist[j] is the shortest reduced distance from the new row to column j, pred[j] the
  // row it was reached from. order[0, scanned) holds the columns whose distance is final; the rest
  // are still open, so the inner loop walks only the open ones and never allocates.
  std::vector<double> dist(cols);
  std::vector<int32_t> pred(cols), order(cols);

  for (size_t r = 0; r < rows; ++r) {
    for (size_t j = 0; j < cols; ++j) dist[j] = inf, order[j] = int32_t(j);
    size_t scanned = 0, sink = 0;
    size_t i = r;        // the row being expanded
    double d_i = 0.0;    // its distance (that of the column it is matched to; 0 for the new row)
    double delta = 0.0;  // distance of the free column the search ends at
    for (;;) {
      // Relax the edges out of row i and pick the nearest open column in the same pass.
      const double* c = cost.data() + i * cols;
      const double base = d_i - u[i];
      double best = inf;
      size_t best_at = scanned;
      for (size_t p = scanned; p < cols; ++p) {
        const size_t j = size_t(order[p]);
        const double d = base + c[j] - v[j];
        if (d < dist[j]) dist[j] = d, pred[j] = int32_t(i);
        // Among equally near columns a free one ends the search at once (zero-cost ties are the
        // common case: most cells are not stuck).
        if (dist[j] < best || (dist[j] == best && row_of_col[j] < 0 && row_of_col[size_t(order[best_at])] >= 0))
          best = dist[j], best_at = p;
      }
      // An open column always exists: at most r columns are matched and r < n <= m.
      std::swap(order[scanned], order[best_at]);
      const size_t j = size_t(order[scanned++]);
      if (row_of_col[j] < 0) {
        sink = j, delta = best;
        break;
      }
      i = size_t(row_of_col[j]), d_i = best;
    }
    // Shift the potentials: every final column j moves by dist[j] - delta (<= 0) and its matched row
    // by the opposite, so matched edges stay tight and no reduced cost turns negative; the new
    // row's own edge to its first path column becomes tight through u[r] += delta.
    u[r] += delta;
    for (size_t p = 0; p < scanned; ++p) {
      const size_t j = size_t(order[p]);
      const double shift = dist[j] - delta;
      v[j] += shift;
      if (row_of_col[j] >= 0) u[size_t(row_of_col[j])] -= shift;
    }
    // Flip the matching along the path sink <- pred row <- its old column <- ... <- new row.
    for (size_t j = sink;;) {
      const int32_t pi = pred[j];
      const int32_t old_col = col_of_row[size_t(pi)];
      row_of_col[j] = pi;
      col_of_row[size_t(pi)] = int32_t(j);
      if (size_t(pi) == r) break;
      j = size_t(old_col);
    }
  }
  return col_of_row;
}

double assignment_cost(const std::vector<double>& cost, int64_t m, const std::vector<int32_t>& col_of_row) {
  STUCKAT_CHECK(m >= 0 && static_cast<int64_t>(cost.size()) >= static_cast<int64_t>(col_of_row.size()) * m,
                "assignment cost: {} costs for {} rows of {} columns", cost.size(), col_of_row.size(), m);
  double total = 0.0;
  for (size_t i = 0; i < col_of_row.size(); ++i) {
    STUCKAT_CHECK(col_of_row[i] >= 0 && col_of_row[i] < m, "assignment cost: row {} on column {} of {}", i,
                  col_of_row[i], m);
    total += cost[i * size_t(m) + size_t(col_of_row[i])];
  }
  return total;
}

}  // namespace stuckat::xbar
