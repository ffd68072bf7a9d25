// The linear assignment solver against brute force (every injective map) and a subset DP on random
// matrices, a hand-computed case, ties and degenerate shapes, large instances against identity,
// greedy and pairwise swaps, and bad input.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "base/error.h"
#include "crossbar/linear_assignment.h"

using namespace stuckat;
using namespace stuckat::xbar;

namespace {

// Minimum over every injective map of n rows into m columns: each permutation of the m columns
// assigns row i to its i-th entry (the tail is unused, so maps repeat; fine for m <= 7).
double brute_force(const std::vector<double>& cost, int64_t n, int64_t m) {
  std::vector<int32_t> perm(static_cast<size_t>(m));
  std::iota(perm.begin(), perm.end(), 0);
  double best = std::numeric_limits<double>::infinity();
  do {
    double total = 0;
    for (int64_t i = 0; i < n; ++i) total += cost[size_t(i * m + perm[size_t(i)])];
    best = std::min(best, total);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

// Exact minimum for small n and any m: walk the columns, best[S] = cheapest way to give the rows in
// the bitmask S distinct columns among those seen so far. O(m 2^n n).
double subset_dp(const std::vector<double>& cost, int64_t n, int64_t m) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> best(size_t(1) << n, inf);
  best[0] = 0;
  for (int64_t j = 0; j < m; ++j)
    for (size_t s = best.size(); s-- > 0;)  // descending: each column is used at most once
      for (int64_t i = 0; i < n; ++i)
        if (s >> i & 1) best[s] = std::min(best[s], best[s ^ (size_t(1) << i)] + cost[size_t(i * m + j)]);
  return best.back();
}

bool is_injective_assignment(const std::vector<int32_t>& a, int64_t n, int64_t m) {
  if (static_cast<int64_t>(a.size()) != n) return false;
  std::vector<char> used(static_cast<size_t>(m), 0);
  for (int32_t c : a) {
    if (c < 0 || c >= m || used[size_t(c)]) return false;
    used[size_t(c)] = 1;
  }
  return true;
}

bool close(double got, double want) { return std::abs(got - want) <= 1e-9 * std::max(1.0, std::abs(want)); }

std::vector<int32_t> greedy(const std::vector<double>& cost, int64_t n, int64_t m) {
  std::vector<int32_t> a;
  std::vector<char> used(static_cast<size_t>(m), 0);
  for (int64_t i = 0; i < n; ++i) {
    int32_t best = -1;
    for (int32_t j = 0; j < m; ++j)
      if (!used[size_t(j)] && (best < 0 || cost[size_t(i * m + j)] < cost[size_t(i * m + best)])) best = j;
    used[size_t(best)] = 1;
    a.push_back(best);
  }
  return a;
}

// A necessary condition for optimality that is cheap on large instances: no two rows gain by
// swapping columns, and no row gains by moving to an unused column.
bool no_improving_swap(const std::vector<double>& cost, int64_t n, int64_t m, const std::vector<int32_t>& a) {
  auto c = [&](int64_t i, int32_t j) { return cost[size_t(i * m + j)]; };
  std::vector<char> used(static_cast<size_t>(m), 0);
  for (int32_t j : a) used[size_t(j)] = 1;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t k = i + 1; k < n; ++k)
      if (c(i, a[i]) + c(k, a[k]) > c(i, a[k]) + c(k, a[i]) + 1e-9) return false;
    for (int32_t j = 0; j < m; ++j)
      if (!used[size_t(j)] && c(i, a[i]) > c(i, j) + 1e-9) return false;
  }
  return true;
}

std::vector<double> random_costs(std::mt19937_64& rng, int64_t n, int64_t m, bool integer) {
  std::vector<double> cost(size_t(n * m));
  std::uniform_int_distribution<int> small(-3, 9);  // a narrow range, so ties are common
  std::uniform_real_distribution<double> real(-5.0, 5.0);
  for (double& c : cost) c = integer ? double(small(rng)) : real(rng);
  return cost;
}

}  // namespace

TEST_CASE("linear assignment: the brute-force minimum on small random matrices", "[crossbar]") {
  std::mt19937_64 rng(20240611);
  int instances = 0;
  for (int64_t n = 1; n <= 6; ++n)
    for (int64_t m = n; m <= 7; ++m)
      for (int rep = 0; rep < 16; ++rep, ++instances) {
        const bool integer = rep % 2 == 0;
        const std::vector<double> cost = random_costs(rng, n, m, integer);
        const std::vector<int32_t> a = solve_linear_assignment(cost, n, m);
        INFO("n " << n << ", m " << m << ", rep " << rep);
        REQUIRE(is_injective_assignment(a, n, m));
        const double want = brute_force(cost, n, m), got = assignment_cost(cost, m, a);
        if (integer)
          REQUIRE(got == want);  // sums of small integers are exact in double
        else
          REQUIRE(close(got, want));
      }
  REQUIRE(instances >= 200);
}

TEST_CASE("linear assignment: the subset-DP minimum on wide random matrices", "[crossbar]") {
  std::mt19937_64 rng(99);
  for (int rep = 0; rep < 60; ++rep) {
    const int64_t n = 1 + rep % 7, m = n + int64_t(rng() % 40);
    const bool integer = rep % 2 == 1;
    const std::vector<double> cost = random_costs(rng, n, m, integer);
    const std::vector<int32_t> a = solve_linear_assignment(cost, n, m);
    INFO("n " << n << ", m " << m);
    REQUIRE(is_injective_assignment(a, n, m));
    const double want = subset_dp(cost, n, m), got = assignment_cost(cost, m, a);
    if (integer)
      REQUIRE(got == want);
    else
      REQUIRE(close(got, want));
  }
}

TEST_CASE("linear assignment: a hand-computed 3 x 3", "[crossbar]") {
  // Permutations cost 6, 11, 5, 9, 7, 6: the only minimum is 1 + 2 + 2 with rows -> columns 1, 0, 2.
  const std::vector<double> cost{4, 1, 3, 2, 0, 5, 3, 2, 2};
  const std::vector<int32_t> a = solve_linear_assignment(cost, 3, 3);
  REQUIRE(a == std::vector<int32_t>{1, 0, 2});
  REQUIRE(assignment_cost(cost, 3, a) == 5);
}

TEST_CASE("linear assignment: ties and degenerate shapes", "[crossbar]") {
  SECTION("all costs equal") {
    const std::vector<double> cost(25, 7.5);
    const std::vector<int32_t> a = solve_linear_assignment(cost, 5, 5);
    REQUIRE(is_injective_assignment(a, 5, 5));
    REQUIRE(assignment_cost(cost, 5, a) == 5 * 7.5);
  }
  SECTION("all zeros, rectangular") {
    const std::vector<double> cost(4 * 6, 0.0);
    const std::vector<int32_t> a = solve_linear_assignment(cost, 4, 6);
    REQUIRE(is_injective_assignment(a, 4, 6));
    REQUIRE(assignment_cost(cost, 6, a) == 0);
  }
  SECTION("one row takes its cheapest column") {
    REQUIRE(solve_linear_assignment({3, 1, 2}, 1, 3) == std::vector<int32_t>{1});
    REQUIRE(solve_linear_assignment({-4}, 1, 1) == std::vector<int32_t>{0});
    REQUIRE(solve_linear_assignment({5, 5, -1, 5, 5, 5, 5}, 1, 7) == std::vector<int32_t>{2});
  }
  SECTION("wide: the only free cells are at the far end, in reverse order") {
    const int64_t n = 3, m = 10;
    std::vector<double> cost(size_t(n * m), 1.0);
    for (int64_t i = 0; i < n; ++i) cost[size_t(i * m + (m - 1 - i))] = 0.0;
    const std::vector<int32_t> a = solve_linear_assignment(cost, n, m);
    REQUIRE(a == std::vector<int32_t>{9, 8, 7});
    REQUIRE(assignment_cost(cost, m, a) == 0);
  }
  SECTION("rows that all prefer the same column") {
    // Column 0 is cheapest for everyone; only the row that loses least elsewhere should get it.
    const std::vector<double> cost{0, 10, 10, 0, 1, 9, 0, 9, 2};
    const std::vector<int32_t> a = solve_linear_assignment(cost, 3, 3);
    REQUIRE(a == std::vector<int32_t>{0, 1, 2});
    REQUIRE(assignment_cost(cost, 3, a) == 3);
  }
  SECTION("no rows") {
    REQUIRE(solve_linear_assignment({}, 0, 5).empty());
    REQUIRE(solve_linear_assignment({}, 0, 0).empty());
  }
}

TEST_CASE("linear assignment: large random instances beat identity and greedy", "[crossbar]") {
  std::mt19937_64 rng(7);
  for (int64_t n : {128, 256}) {
    std::vector<double> cost(size_t(n * n));
    for (double& c : cost) c = std::uniform_real_distribution<double>(0, 1)(rng);
    const std::vector<int32_t> a = solve_linear_assignment(cost, n, n);
    INFO("n " << n);
    REQUIRE(is_injective_assignment(a, n, n));
    std::vector<int32_t> identity(static_cast<size_t>(n));
    std::iota(identity.begin(), identity.end(), 0);
    const double got = assignment_cost(cost, n, a);
    REQUIRE(got <= assignment_cost(cost, n, identity));
    REQUIRE(got <= assignment_cost(cost, n, greedy(cost, n, n)));
    REQUIRE(no_improving_swap(cost, n, n, a));
    // Relabelling the columns must not change the optimum.
    std::vector<int32_t> perm(static_cast<size_t>(n));
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::vector<double> shuffled(cost.size());
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) shuffled[size_t(i * n + perm[size_t(j)])] = cost[size_t(i * n + j)];
    REQUIRE(close(assignment_cost(shuffled, n, solve_linear_assignment(shuffled, n, n)), got));
  }
  // Wide: 100 rows over 300 columns.
  const int64_t n = 100, m = 300;
  std::vector<double> cost(size_t(n * m));
  for (double& c : cost) c = std::uniform_real_distribution<double>(0, 1)(rng);
  const std::vector<int32_t> a = solve_linear_assignment(cost, n, m);
  REQUIRE(is_injective_assignment(a, n, m));
  REQUIRE(assignment_cost(cost, m, a) <= assignment_cost(cost, m, greedy(cost, n, m)));
  REQUIRE(no_improving_swap(cost, n, m, a));
}

TEST_CASE("linear assignment: bad input throws", "[crossbar]") {
  REQUIRE_THROWS_AS(solve_linear_assignment({1, 2}, 2, 1), Error);        // more rows than columns
  REQUIRE_THROWS_AS(solve_linear_assignment({1, 2, 3}, 2, 2), Error);     // wrong size
  REQUIRE_THROWS_AS(solve_linear_assignment({1, 2, 3, 4, 5}, 2, 2), Error);
  REQUIRE_THROWS_AS(solve_linear_assignment({}, -1, 2), Error);
  REQUIRE_THROWS_AS(solve_linear_assignment({1, std::nan(""), 3, 4}, 2, 2), Error);
  REQUIRE_THROWS_AS(solve_linear_assignment({1, 2, std::numeric_limits<double>::infinity(), 4}, 2, 2), Error);
  REQUIRE_THROWS_AS(assignment_cost({1, 2, 3, 4}, 2, {0, 2}), Error);  // column out of range
}
