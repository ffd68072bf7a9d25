// Minimum-cost assignment of rows to distinct columns: where a fault-aware placement puts a tile's
// wordlines and weight columns (and a tile among physical tiles) so that stuck cells do the least
// damage. Exact: shortest augmenting paths with row and column potentials (the Hungarian /
// Jonker-Volgenant family), O(n^2 m).
#pragma once
#include <cstdint>
#include <vector>

namespace stuckat::xbar {

// `cost`: n x m, row-major, finite, n <= m. Returns col_of_row (n distinct columns in [0, m)).
std::vector<int32_t> solve_linear_assignment(const std::vector<double>& cost, int64_t n, int64_t m);

// The total cost of an assignment.
double assignment_cost(const std::vector<double>& cost, int64_t m, const std::vector<int32_t>& col_of_row);

}  // namespace stuckat::xbar
