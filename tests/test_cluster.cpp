// The pieces of distributed runs that a single process can check: a sweep's units (runs of one
// layer and format, capped), their text form, and the work queue in a one-process world (every
// unit once, results to the coordinator, failures rethrown).
#include <catch2/catch.hpp>

#include <set>

#include "base/error.h"
#include "cluster/work_queue.h"
#include "cluster/world.h"
#include "sweep/sweep_units.h"

using namespace stuckat;

namespace {
sweep::SweepGrid small_grid() {
  sweep::SweepGrid g;
  g.formats = {"q4.11", "fp16"};
  g.layers = {"conv1", "fc1"};
  g.bits = {3, 15};
  g.stuck = {0, 1};
  g.rates = {0.01};
  g.seeds = {0, 1, 2};
  return g;  // per format: 1 + 2 * 2 * 2 * 1 * 3 = 25 points
}
}  // namespace

TEST_CASE("sweep units: one layer and format per unit, at most max points, every point once", "[cluster]") {
  const sweep::SweepGrid g = small_grid();
  REQUIRE(g.size() == 50);
  std::vector<int64_t> all;
  for (int64_t i = 0; i < g.size(); ++i)
    if (i % 7 != 3) all.push_back(i);  // as after a resume: some points already done
  for (int64_t cap : {1, 5, 12, 1000}) {
    const auto units = sweep::sweep_units(g, all, cap);
    std::vector<int64_t> seen;
    for (const auto& u : units) {
      REQUIRE(!u.empty());
      REQUIRE(static_cast<int64_t>(u.size()) <= cap);
      const sweep::SweepPoint first = sweep::sweep_point(g, u.front());
      for (int64_t i : u) {
        const sweep::SweepPoint p = sweep::sweep_point(g, i);
        REQUIRE(p.format == first.format);
        REQUIRE(p.baseline == first.baseline);
        if (p.baseline) REQUIRE(u.size() == 1);
        else REQUIRE(p.layer == first.layer);
        seen.push_back(i);
      }
      REQUIRE(sweep::decode_sweep_unit(sweep::encode_sweep_unit(u), g) == u);
    }
    REQUIRE(seen == all);
  }
  // Without a cap: baselines alone, then one unit per (format, layer): 2 x (1 + 2).
  REQUIRE(sweep::sweep_units(g, all, 1000).size() == 6);
  REQUIRE_THROWS_AS(sweep::decode_sweep_unit("3,2", g), Error);
  REQUIRE_THROWS_AS(sweep::decode_sweep_unit("50", g), Error);
  REQUIRE_THROWS_AS(sweep::decode_sweep_unit("1;2", g), Error);
}

namespace {
struct CountingCoordinator : cluster::WorkCoordinator {
  int total = 0, handed = 0;
  std::vector<std::pair<std::string, std::string>> results;
  cluster::NextUnit next(std::string* unit) override {
    if (handed == total) return cluster::NextUnit::kFinished;
    *unit = std::to_string(handed++);
    return cluster::NextUnit::kUnit;
  }
  void finished(const std::string& unit, const std::string& result, int rank) override {
    REQUIRE(rank == 0);
    results.emplace_back(unit, result);
  }
};
}  // namespace

TEST_CASE("work queue in one process: every unit runs once, in order, results to the coordinator", "[cluster]") {
  REQUIRE(cluster::world_size() == 1);
  CountingCoordinator c;
  c.total = 7;
  cluster::run_work_queue(&c, [](const std::string& u) { return "r" + u; });
  REQUIRE(c.results.size() == 7);
  for (int i = 0; i < 7; ++i) {
    REQUIRE(c.results[size_t(i)].first == std::to_string(i));
    REQUIRE(c.results[size_t(i)].second == "r" + std::to_string(i));
  }
}

TEST_CASE("work queue in one process: a unit's InputError comes back as one", "[cluster]") {
  CountingCoordinator c;
  c.total = 3;
  REQUIRE_THROWS_AS(cluster::run_work_queue(&c,
                                            [](const std::string& u) -> std::string {
                                              if (u == "1") throw_input_error("bad unit {}", u);
                                              return u;
                                            }),
                    InputError);
  REQUIRE(c.results.size() == 1);  // unit 0 finished, unit 2 never handed out
  REQUIRE(c.handed == 2);
}

TEST_CASE("setup on every rank: one process rethrows its own error", "[cluster]") {
  REQUIRE_NOTHROW(cluster::setup_on_every_rank([] {}));
  REQUIRE_THROWS_AS(cluster::setup_on_every_rank([] { throw_input_error("--x must be y"); }), InputError);
}

#include "sweep/adaptive_seeds.h"
#include "sweep/sweep_summary.h"

TEST_CASE("t quantiles: the table's values and the large-df approximation", "[sweep]") {
  REQUIRE(sweep::t_quantile_975(1) == Approx(12.706));
  REQUIRE(sweep::t_quantile_975(2) == Approx(4.303));
  REQUIRE(sweep::t_quantile_975(30) == Approx(2.042));
  // Published values: t(0.975, 60) = 2.000, t(0.975, 120) = 1.980.
  REQUIRE(sweep::t_quantile_975(60) == Approx(2.000).epsilon(1e-3));
  REQUIRE(sweep::t_quantile_975(120) == Approx(1.980).epsilon(1e-3));
}

TEST_CASE("adaptive seeds: stable points stop at the first round, unstable ones double to the cap", "[sweep]") {
  sweep::SweepGrid g;
  g.formats = {"q4.11"};
  g.layers = {"conv1"};
  g.bits = {3, 15};  // cell 0: bit 3, cell 1: bit 15
  g.stuck = {1};
  g.rates = {0.01};
  for (uint64_t s = 0; s < 8; ++s) g.seeds.push_back(s);
  sweep::AdaptiveSeeds st;
  st.min_seeds = 2;
  st.max_seeds = 8;
  st.half_width = 0.01;
  std::vector<char> done(size_t(g.size()), 0);
  std::vector<double> acc(size_t(g.size()), 0.0);
  // Cell 0 (indices 1..8) always 0.80; cell 1 (9..16) alternates 0.5 / 0.7 (half-width of two:
  // 12.706 * 0.1414 / 1.414 = 1.27, of four: 3.182 * 0.1155 / 2 = 0.18, of eight: 2.365 * 0.107 / 2.83 = 0.089).
  auto accuracy_of = [](int64_t i) { return i <= 8 ? 0.80 : ((i - 9) % 2 == 0 ? 0.5 : 0.7); };
  auto run = [&](const std::vector<int64_t>& points) {
    for (int64_t i : points) done[size_t(i)] = 1, acc[size_t(i)] = accuracy_of(i);
  };
  std::vector<int64_t> r1 = sweep::next_adaptive_round(g, done, acc, st);
  REQUIRE(r1 == std::vector<int64_t>{0, 1, 2, 9, 10});  // baseline, 2 seeds of each cell
  run(r1);
  std::vector<int64_t> r2 = sweep::next_adaptive_round(g, done, acc, st);
  REQUIRE(r2 == std::vector<int64_t>{11, 12});  // cell 1 only: seeds 2, 3
  run(r2);
  std::vector<int64_t> r3 = sweep::next_adaptive_round(g, done, acc, st);
  REQUIRE(r3 == std::vector<int64_t>{13, 14, 15, 16});  // seeds 4..7
  run(r3);
  REQUIRE(sweep::next_adaptive_round(g, done, acc, st).empty());  // at the cap
  // A looser target stops cell 1 after four seeds.
  st.half_width = 0.2;
  std::fill(done.begin(), done.end(), 0);
  run(sweep::next_adaptive_round(g, done, acc, st));
  run(sweep::next_adaptive_round(g, done, acc, st));
  REQUIRE(sweep::next_adaptive_round(g, done, acc, st).empty());
  // Resumed mid-round (seed 2 of cell 1 done, 3 not): the round is completed, not decided early.
  st.half_width = 0.01;
  std::fill(done.begin(), done.end(), 0);
  run({0, 1, 2, 9, 10, 11});
  REQUIRE(sweep::next_adaptive_round(g, done, acc, st) == std::vector<int64_t>{12});
}
