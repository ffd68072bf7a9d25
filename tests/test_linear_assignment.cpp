// The assignment solver against brute force (every injective map) on small random matrices, a
// hand-computed case, degenerate ones, and a large instance against identity and greedy.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <random>
#include <set>

#include "base/error.h"
#include "crossbar/linear_assignment.h"

using namespace stuckat;
using namespace stuckat::xbar;

namespace {
double brute_force(const std::vector<double>& cost, int64_t n, int64_t m) {
  // Every choice of n columns in order: permutations of m taken n at a time.
  std::vector<int32_t> cols(static_cast<size_t>(m));
  std::iota(cols.begin(), cols.end(), 0);
  double best = 1e300;
  do {
    double c = 0;
    for (int64_t i = 0; i < n; ++i) c += cost[size_t(i * m + cols[size_t(i)])];
    best = std::min(best, c);
  } while (std::next_permutation(cols.begin(), cols.end()));
  return best;
}

bool valid(const std::vector<int32_t>& a, int64_t n, int64_t m) {
  std::set<int32_t> seen(a.begin(), a.end());
  return static_cast<int64_t>(a.size()) == n && static_cast<int64_t>(seen.size()) == n &&
         std::all_of(a.begin(), a.end(), [m](int32_t c) { return c >= 0 && c < m; });
}
}  // namespace

TEST_CASE("linear assignment: the brute-force minimum on random matrices", "[crossbar]") {
  std::mt19937_64 rng(42);
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t n = 1 + trial % 6, m = n + (trial / 6) % (8 - n);
    std::vector<double> cost(size_t(n * m));
    const bool integer = trial % 2 == 0;
    for (double& c : cost) c = integer ? double(rng() % 10) : std::uniform_real_distribution<double>(-5, 5)(rng);
    const std::vector<int32_t> a = solve_linear_assignment(cost, n, m);
    REQUIRE(valid(a, n, m));
    const double want = brute_force(cost, n, m);
    if (integer)
      REQUIRE(assignment_cost(cost, m, a) == want);
    else
      REQUIRE(assignment_cost(cost, m, a) == Approx(want).epsilon(1e-9));
  }
}

TEST_CASE("linear assignment: a hand-computed case and degenerate ones", "[crossbar]") {
  const std::vector<double> c{4, 1, 3, 2, 0, 5, 3, 2, 2};
  const std::vector<int32_t> a = solve_linear_assignment(c, 3, 3);
  REQUIRE(assignment_cost(c, 3, a) == 5);  // 1 + 2 + 2: rows -> columns 1, 0, 2
  REQUIRE(a == std::vector<int32_t>{1, 0, 2});
  REQUIRE(valid(solve_linear_assignment(std::vector<double>(16, 7.0), 4, 4), 4, 4));
  REQUIRE(valid(solve_linear_assignment(std::vector<double>(12, 0.0), 3, 4), 3, 4));
  REQUIRE(solve_linear_assignment({3, 1, 2}, 1, 3) == std::vector<int32_t>{1});
  REQUIRE(solve_linear_assignment({}, 0, 5).empty());
  REQUIRE_THROWS_AS(solve_linear_assignment({1, 2}, 2, 1), Error);
  REQUIRE_THROWS_AS(solve_linear_assignment({1, 2, 3}, 2, 2), Error);
}

TEST_CASE("linear assignment: 128 x 128 beats identity and greedy", "[crossbar]") {
  std::mt19937_64 rng(7);
  const int64_t n = 128;
  std::vector<double> cost(size_t(n * n));
  for (double& c : cost) c = std::uniform_real_distribution<double>(0, 1)(rng);
  const std::vector<int32_t> a = solve_linear_assignment(cost, n, n);
  REQUIRE(valid(a, n, n));
  std::vector<int32_t> identity(static_cast<size_t>(n)), greedy;
  std::iota(identity.begin(), identity.end(), 0);
  std::vector<char> used(size_t(n), 0);
  for (int64_t i = 0; i < n; ++i) {
    int32_t best = -1;
    for (int32_t j = 0; j < n; ++j)
      if (!used[size_t(j)] && (best < 0 || cost[size_t(i * n + j)] < cost[size_t(i * n + best)])) best = j;
    used[size_t(best)] = 1;
    greedy.push_back(best);
  }
  REQUIRE(assignment_cost(cost, n, a) <= assignment_cost(cost, n, identity));
  REQUIRE(assignment_cost(cost, n, a) <= assignment_cost(cost, n, greedy));
}
