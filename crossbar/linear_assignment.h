// Exact minimum-cost rectangular assignment (rows to distinct columns). Fault-aware placement uses it to
// put a tile's wordlines and bitlines on physical crossbar lines, and tiles on physical tiles, so that
// stuck cells do the least damage.
#pragma once
#include <cstdint>
#include <vector>

namespace stuckat::xbar {

// Minimum-cost assignment of n rows to distinct columns of an n x m cost matrix (n <= m, row-major,
// costs finite doubles): returns col_of_row (n entries, distinct, each in [0, m)). Exact (shortest
// augmenting paths with row and column potentials, the Hungarian / Jonker-Volgenant family), O(n^2 m).
// n == 0 gives an empty vector. Throws stuckat::Error on bad arguments.
std::vector<int32_t> solve_linear_assignment(const std::vector<double>& cost, int64_t n, int64_t m);

// The total cost of an assignment: sum over i of cost[i * m + col_of_row[i]].
double assignment_cost(const std::vector<double>& cost, int64_t m, const std::vector<int32_t>& col_of_row);

}  // namespace stuckat::xbar
