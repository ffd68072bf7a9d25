// Crossbar mapping, counting and reordering: hand-computed tile and segment counts,
// fast counters == references, theory vs measurement on random matrices, hand-traced RCM and
// Spara orders, every strategy's layout rebuilding the matrix, the verifier catching broken
// layouts, file readers rejecting malformed input, and CPU == GPU on a device ([cuda]).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crossbar/gpu_counting.h"
#include "crossbar/layer_matrix.h"
#include "crossbar/layout_verifier.h"
#include "crossbar/lower_bound.h"
#include "crossbar/matrix_files.h"
#include "crossbar/rcm_ordering.h"
#include "crossbar/strategies.h"
#include "crossbar/tile_counts.h"
#include "crossbar/tile_growth.h"
#include "crossbar/tile_merging.h"
#include "crossbar/tile_theory.h"
#include "base/error.h"
#include "models/model_zoo.h"
#include "numeric_checks.h"

using namespace stuckat;
using namespace stuckat::xbar;

namespace {

SparseMatrix from_entries(int64_t rows, int64_t cols, const std::vector<std::pair<int64_t, int64_t>>& nz) {
  std::vector<Triplet> t;
  float v = 1.0f;
  for (const auto& [r, c] : nz) t.push_back({r, c, v++});  // distinct values, so a mix-up shows
  SparseMatrix m;
  REQUIRE(csr_from_triplets(t, rows, cols, &m));
  return m;
}

// Bernoulli(density) pattern from a fixed seed; values are the draw index + 1.
SparseMatrix random_matrix(int64_t rows, int64_t cols, double density, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<float> dense(static_cast<size_t>(rows * cols), 0.0f);
  for (size_t i = 0; i < dense.size(); ++i)
    if (double(rng() >> 11) * 0x1.0p-53 < density) dense[i] = float(i % 1000 + 1);
  return csr_from_dense(dense.data(), rows, cols);
}

// Rows whose nonzero counts follow a power law (a few rows hold most nonzeros).
SparseMatrix power_law_matrix(int64_t rows, int64_t cols, int64_t nnz, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Triplet> t;
  std::vector<char> seen(static_cast<size_t>(rows * cols), 0);
  while (int64_t(t.size()) < nnz) {
    const double u = double(rng() >> 11) * 0x1.0p-53;
    const int64_t r = std::min<int64_t>(rows - 1, int64_t(double(rows) * u * u * u));
    const int64_t c = int64_t(rng() % uint64_t(cols));
    if (seen[r * cols + c]) continue;
    seen[r * cols + c] = 1;
    t.push_back({r, c, float(t.size() + 1)});
  }
  SparseMatrix m;
  REQUIRE(csr_from_triplets(t, rows, cols, &m));
  return m;
}

std::string temp_file(const std::string& name, const std::string& content) {
  const std::string path = std::string("/tmp/stuckat_test_crossbar_") + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

}  // namespace

TEST_CASE("LeNet-5 at S=128 needs 9 tiles: conv1 1, conv2 2, fc1 4, fc2 1, fc3 1", "[crossbar]") {
  auto model = make_model(parse_model_name("lenet5"), 0);
  const std::vector<SparseMatrix> m = model_matrices(*model);
  REQUIRE(m.size() == 5);
  // rows = inputs (in*kh*kw / in_features), cols = outputs.
  const int64_t rows[] = {25, 150, 400, 120, 84}, cols[] = {6, 16, 120, 84, 10}, tiles[] = {1, 2, 4, 1, 1};
  int64_t total = 0;
  for (int i = 0; i < 5; ++i) {
    CHECK(m[i].rows == rows[i]);
    CHECK(m[i].cols == cols[i]);
    const TileCounts n = count_tiles(m[i], TileShape{});
    CHECK(n.tiles == tiles[i]);
    CHECK(n.nonzero_tiles == tiles[i]);  // freshly initialised weights are all nonzero
    total += n.tiles;
  }
  CHECK(m[0].name == "conv1");
  CHECK(total == 9);
}

TEST_CASE("a (512,512,3,3) conv is 4608 x 512 = 144 tiles of 128", "[crossbar]") {
  std::vector<float> w(512 * 512 * 9, 0.5f);
  const SparseMatrix m = layer_matrix("conv", w.data(), {512, 512, 3, 3});
  CHECK(m.rows == 4608);
  CHECK(m.cols == 512);
  CHECK(m.kernel_positions == 9);
  const TileCounts n = count_tiles(m, TileShape{});
  CHECK(n.tiles == 144);
  CHECK(n.nonzero_tiles == 144);
  CHECK(n.col_segments == 36 * 512);
  CHECK(n.row_segments == 4608 * 4);
}

TEST_CASE("conv weight (out, in, kh, kw) maps to row (i*kh + y)*kw + x, column o", "[crossbar]") {
  // w[o][i][y][x] = 1000*o + 100*i + 10*y + x + 1 for out 2, in 3, 2 x 2 kernels.
  std::vector<float> w;
  for (int o = 0; o < 2; ++o)
    for (int i = 0; i < 3; ++i)
      for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 2; ++x) w.push_back(float(1000 * o + 100 * i + 10 * y + x + 1));
  const SparseMatrix m = layer_matrix("c", w.data(), {2, 3, 2, 2});
  REQUIRE(m.rows == 12);
  REQUIRE(m.cols == 2);
  // (o=1, i=2, y=1, x=0): row (2*2 + 1)*2 + 0 = 10, column 1.
  const int64_t r = 10;
  REQUIRE(m.row_ptr[r + 1] - m.row_ptr[r] == 2);
  CHECK(m.col_idx[m.row_ptr[r] + 1] == 1);
  CHECK(m.values[m.row_ptr[r] + 1] == 1211.0f);
  // Kernel position p = y*kw + x = 2 (y=1, x=0): slice row i holds w[.][i][1][0].
  const SparseMatrix s = kernel_position_slice(m, 2);
  REQUIRE(s.rows == 3);
  CHECK(s.values[s.row_ptr[2]] == 211.0f);
  CHECK(s.values[s.row_ptr[2] + 1] == 1211.0f);
}

TEST_CASE("segment and tile counts on hand-made matrices", "[crossbar]") {
  SECTION("4 x 4, S = 2") {
    // x . . .
    // . . . x
    // . . . .
    // x x . .
    const SparseMatrix a = from_entries(4, 4, {{0, 0}, {1, 3}, {3, 0}, {3, 1}});
    for (const TileCounts& n : {count_tiles_ref(a, {2, 2}), count_tiles(a, {2, 2})}) {
      CHECK(n.tiles == 4);
      CHECK(n.nonzero_tiles == 3);         // all but the bottom-right
      CHECK(n.col_segments == 8);
      CHECK(n.nonzero_col_segments == 4);  // band 0: cols 0, 3; band 1: cols 0, 1
      CHECK(n.row_segments == 8);
      CHECK(n.nonzero_row_segments == 3);  // rows 0, 1, 3 once each
      CHECK(n.saved() == 1);
    }
    const TileLowerBound b = tile_lower_bound(a, {2, 2});
    CHECK(b.cells == 1);
    CHECK(b.rows == 2);  // row slots 1 + 1 + 0 + 1 = 3 -> ceil(3/2)
    CHECK(b.cols == 2);  // column slots 1 + 1 + 0 + 1 = 3 -> ceil(3/2)
  }
  SECTION("3 x 5 with 2 x 3 rectangles") {
    const SparseMatrix a = from_entries(3, 5, {{0, 0}, {0, 4}, {2, 2}, {2, 3}});
    for (const TileCounts& n : {count_tiles_ref(a, {2, 3}), count_tiles(a, {2, 3})}) {
      CHECK(n.tiles == 4);
      CHECK(n.nonzero_tiles == 4);
      CHECK(n.col_segments == 10);
      CHECK(n.nonzero_col_segments == 4);
      CHECK(n.row_segments == 6);
      CHECK(n.nonzero_row_segments == 4);
    }
  }
}

TEST_CASE("fast counting equals the reference bit for bit", "[crossbar]") {
  const TileShape shapes[] = {{128, 128}, {64, 64}, {8, 8}, {5, 7}, {100, 3}};
  int seed = 0;
  for (const TileShape t : shapes) {
    for (const SparseMatrix& a : {random_matrix(300, 170, 0.02, ++seed), random_matrix(77, 1000, 0.001, ++seed),
                                  power_law_matrix(500, 400, 3000, ++seed), random_matrix(1, 1, 1.0, ++seed)}) {
      CHECK(count_tiles(a, t) == count_tiles_ref(a, t));
      CHECK(count_compact_tiles(a, t) == count_assigned_tiles(reorder_compact(a, t)));
    }
  }
}

TEST_CASE("measured zero column segments follow (1-d)^S within 1 point", "[crossbar]") {
  struct Case {
    int64_t s;
    double d;
  };
  // Densities put (1-d)^S near 0.5, where a miscount shows most; 4096 x 1024 gives >= 32768
  // segments per case, so the binomial standard error is <= 0.3 points.
  for (const Case c : {Case{8, 0.08}, Case{64, 0.011}, Case{128, 0.0055}}) {
    const SparseMatrix a = random_matrix(4096, 1024, c.d, uint64_t(c.s));
    const TileShape t{c.s, c.s};
    const TileTheory th = tile_theory(count_tiles(a, t), a.density(), t);
    INFO("S = " << c.s << " predicted " << th.predicted_zero_col_segment << " measured " << th.measured_zero_col_segment);
    CHECK(std::fabs(th.predicted_zero_col_segment - std::pow(1.0 - a.density(), double(c.s))) < 1e-12);
    CHECK(std::fabs(th.measured_zero_col_segment - th.predicted_zero_col_segment) < 0.01);
    CHECK(std::fabs(th.measured_zero_row_segment - th.predicted_zero_row_segment) < 0.01);
  }
}

TEST_CASE("RCM reproduces hand-traced orders", "[crossbar]") {
  auto graph = [](int64_t n, const std::vector<std::pair<int, int>>& edges) {
    std::vector<std::vector<int32_t>> adj(static_cast<size_t>(n));
    for (auto [u, v] : edges) adj[u].push_back(v), adj[v].push_back(u);
    std::vector<int64_t> ptr{0};
    std::vector<int32_t> flat;
    for (auto& l : adj) {
      std::sort(l.begin(), l.end());
      flat.insert(flat.end(), l.begin(), l.end());
      ptr.push_back(int64_t(flat.size()));
    }
    return std::make_pair(ptr, flat);
  };
  SECTION("a path 0-3-5-1-4-2: BFS from the lowest-degree end, reversed") {
    auto [ptr, adj] = graph(6, {{0, 3}, {3, 5}, {5, 1}, {1, 4}, {4, 2}});
    CHECK(reverse_cuthill_mckee(ptr.data(), adj.data(), 6) == std::vector<int32_t>{2, 4, 1, 5, 3, 0});
  }
  SECTION("neighbours appended by increasing degree") {
    // Degrees 0:3 1:3 2:2 3:1 4:2 5:1. Seed 3 (lowest degree, lowest index); 0; then 0's new
    // neighbours 1 (deg 3) and 2 (deg 2) as 2, 1; then 4 (from 2), 5 (from 1). Reversed.
    auto [ptr, adj] = graph(6, {{0, 1}, {0, 2}, {0, 3}, {1, 4}, {1, 5}, {2, 4}});
    CHECK(reverse_cuthill_mckee(ptr.data(), adj.data(), 6) == std::vector<int32_t>{5, 4, 1, 2, 0, 3});
  }
  SECTION("two components, one order each") {
    auto [ptr, adj] = graph(5, {{0, 4}, {1, 2}, {2, 3}});
    // by degree: 0, 1, 3, 4 (deg 1), 2 (deg 2). Seed 0: [0, 4]; seed 1: [1, 2, 3]. Reversed.
    CHECK(reverse_cuthill_mckee(ptr.data(), adj.data(), 5) == std::vector<int32_t>{3, 2, 1, 4, 0});
  }
}

TEST_CASE("RCM over two lists per vertex equals the reference on the merged graph", "[crossbar]") {
  // The graph of A + A^T on the padded square, merged explicitly (std::set), against the
  // graph-free version that walks row v of A and row v of A^T; and symmetric mode (rows only).
  auto symmetric_part = [](const SparseMatrix& a, uint64_t seed) {  // add (c, r) for about half the entries
    std::mt19937_64 rng(seed);
    std::set<std::pair<int64_t, int64_t>> nz;
    for (int64_t r = 0; r < a.rows; ++r)
      for (int64_t k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) {
        nz.insert({r, a.col_idx[k]});
        if (rng() % 2 && a.col_idx[k] < a.rows && r < a.cols) nz.insert({a.col_idx[k], r});
      }
    return from_entries(a.rows, a.cols, {nz.begin(), nz.end()});
  };
  std::vector<SparseMatrix> ms;
  ms.push_back(random_matrix(300, 300, 0.01, 31));                          // square, a few diagonal entries
  ms.push_back(symmetric_part(random_matrix(200, 200, 0.03, 32), 33));      // many shared entries
  ms.push_back(random_matrix(400, 90, 0.02, 34));                           // tall: padded columns
  ms.push_back(symmetric_part(random_matrix(60, 500, 0.04, 35), 36));       // wide: padded rows
  ms.push_back(symmetric_part(power_law_matrix(500, 500, 4000, 37), 38));   // skewed degrees
  ms.push_back(from_entries(50, 50, {{3, 3}, {3, 7}, {7, 3}, {10, 11}}));  // mostly isolated vertices
  ms.push_back(symmetric_part(power_law_matrix(5000, 4500, 40000, 39), 40));  // n >= 4096: degrees in parallel
  for (const SparseMatrix& a : ms) {
    const int64_t n = std::max(a.rows, a.cols);
    const SparseMatrix at = transpose(a, false);
    for (bool symmetric : {false, true}) {
      INFO(a.rows << " x " << a.cols << (symmetric ? " symmetric mode" : " A + A^T"));
      std::vector<std::set<int32_t>> adj(static_cast<size_t>(n));
      for (int64_t r = 0; r < a.rows; ++r)
        for (int64_t k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) {
          adj[size_t(r)].insert(a.col_idx[k]);
          if (!symmetric) adj[size_t(a.col_idx[k])].insert(int32_t(r));
        }
      std::vector<int64_t> ptr{0};
      std::vector<int32_t> flat;
      for (const auto& l : adj) {
        flat.insert(flat.end(), l.begin(), l.end());
        ptr.push_back(int64_t(flat.size()));
      }
      const std::vector<int32_t> want = reverse_cuthill_mckee(ptr.data(), flat.data(), n);
      const AdjacencyLists second = symmetric ? AdjacencyLists{} : AdjacencyLists{at.row_ptr.data(), at.col_idx.data(), at.rows};
      for (int threads : {1, 2}) {
        test::ThreadCountGuard guard;
        set_num_threads(threads);
        CHECK(reverse_cuthill_mckee(AdjacencyLists{a.row_ptr.data(), a.col_idx.data(), a.rows}, second, n) == want);
      }
    }
  }
}

TEST_CASE("Spara reproduces hand-traced orders", "[crossbar]") {
  SECTION("4 x 4 with 2 x 2 tiles: two diagonal blocks") {
    // r0: c2 c3 / r1: c0 / r2: c2 / r3: c0 c1. Block 1 from r0: columns 2, 3 (full), rows of
    // column 2: r2. Block 2 from r1: column 0, rows of column 0: r3; from r3: column 1.
    const SparseMatrix a = from_entries(4, 4, {{0, 2}, {0, 3}, {1, 0}, {2, 2}, {3, 0}, {3, 1}});
    const SparaOrders o = spara_orders(a, {2, 2});
    CHECK(o.row_order == std::vector<int32_t>{0, 2, 1, 3});
    CHECK(o.col_order == std::vector<int32_t>{2, 3, 0, 1});
    CHECK(count_assigned_tiles(reorder_spara(a, {2, 2})) == 2);
    CHECK(count_tiles(a, {2, 2}).nonzero_tiles == 4);
  }
  SECTION("a row wider than the threshold stays the start row until its edges are visited") {
    // r0: c0 c1 c2 / r1: c3 / r2: c2 c3. Block 1: r0 takes c0, c1 (full). Block 2 starts again
    // at r0 (c2 unvisited): c2, then r2 (column 2), then c3 from r2, then r1 (column 3).
    const SparseMatrix a = from_entries(3, 4, {{0, 0}, {0, 1}, {0, 2}, {1, 3}, {2, 2}, {2, 3}});
    const SparaOrders o = spara_orders(a, {2, 2});
    CHECK(o.row_order == std::vector<int32_t>{0, 2, 1});
    CHECK(o.col_order == std::vector<int32_t>{0, 1, 2, 3});
  }
  SECTION("all-zero rows and columns go last") {
    const SparseMatrix a = from_entries(3, 3, {{1, 1}});
    const SparaOrders o = spara_orders(a, {2, 2});
    CHECK(o.row_order == std::vector<int32_t>{1, 0, 2});
    CHECK(o.col_order == std::vector<int32_t>{1, 0, 2});
  }
}

TEST_CASE("every strategy yields a layout that rebuilds the matrix", "[crossbar]") {
  std::vector<SparseMatrix> ms;
  ms.push_back(random_matrix(300, 170, 0.02, 11));    // tall
  ms.push_back(random_matrix(40, 500, 0.05, 12));     // wide
  ms.push_back(power_law_matrix(600, 300, 2500, 13)); // skewed rows
  ms.push_back(from_entries(5, 5, {}));               // empty
  {
    std::vector<float> w(16 * 12 * 9, 0.0f);
    std::mt19937_64 rng(14);
    for (float& v : w) v = (rng() % 20 == 0) ? float(rng() % 97 + 1) : 0.0f;
    ms.push_back(layer_matrix("conv", w.data(), {16, 12, 3, 3}));  // conv: 108 x 16, 9 kernel positions
  }
  for (const TileShape t : {TileShape{8, 8}, TileShape{16, 4}, TileShape{128, 128}}) {
    for (const SparseMatrix& a : ms) {
      const TileLowerBound bound = tile_lower_bound(a, t);
      int64_t best = -1, fewest_other = -1;
      for (const std::string& name : strategy_names()) {
        INFO(name << " on " << a.rows << " x " << a.cols << " with " << t.rows << " x " << t.cols << " tiles");
        const TileAssignment s = run_strategy(name, a, t);
        const TileLayout l = build_layout(a, s, t);
        const LayoutCheck check = verify_layout(a, l);
        INFO(check.problem);
        CHECK(check.ok);
        CHECK(l.tiles() == count_assigned_tiles(s));
        CHECK(l.tiles() >= bound.best());
        if (name == "none") CHECK(l.tiles() == count_tiles(a, t).nonzero_tiles);
        if (name == "best") best = l.tiles();
        else if (fewest_other < 0 || l.tiles() < fewest_other) fewest_other = l.tiles();
      }
      CHECK(best <= fewest_other);
    }
  }
}

TEST_CASE("the transpose equals the one built from swapped triplets, threaded or not", "[crossbar]") {
  // 1.26M nonzeros: above the size at which the transpose splits the rows over the threads.
  for (const SparseMatrix& a : {random_matrix(1500, 1400, 0.6, 21), power_law_matrix(300, 200, 3000, 22)}) {
    std::vector<Triplet> swapped;
    for (int64_t r = 0; r < a.rows; ++r)
      for (int64_t k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) swapped.push_back({a.col_idx[k], r, a.values[k]});
    SparseMatrix want;
    REQUIRE(csr_from_triplets(swapped, a.cols, a.rows, &want));
    for (int threads : {1, 2, 3}) {
      test::ThreadCountGuard guard;
      set_num_threads(threads);
      const SparseMatrix t = transpose(a);
      CHECK(t.rows == want.rows);
      CHECK((t.row_ptr == want.row_ptr));
      CHECK((t.col_idx == want.col_idx));
      CHECK((t.values == want.values));
      const SparseMatrix pattern = transpose(a, /*values=*/false);
      CHECK((pattern.col_idx == want.col_idx));
      CHECK(pattern.values.empty());
    }
  }
}

TEST_CASE("a layout is the same whether its tiles are sorted by counting or by comparison", "[crossbar]") {
  const SparseMatrix a = random_matrix(300, 170, 0.02, 11);
  const TileShape t{8, 8};
  const TileAssignment s = run_strategy("none", a, t);
  // The same tiles in the same order on a grid 10^4 times taller: too large for the counting sort.
  TileAssignment tall = s;
  tall.grid_rows *= 10000;
  for (int64_t& key : tall.tile_of_nonzero) key *= 10000;
  const TileLayout x = build_layout(a, s, t), y = build_layout(a, tall, t);
  CHECK((x.row_ptr == y.row_ptr));
  CHECK((x.rows == y.rows));
  CHECK((x.col_ptr == y.col_ptr));
  CHECK((x.cols == y.cols));
  CHECK((x.cell_tile == y.cell_tile));
  CHECK((x.cell_row == y.cell_row));
  CHECK((x.cell_col == y.cell_col));
  const TileLayout bare = build_layout(a, s, t, /*cells=*/false);  // what tile merging asks for
  CHECK((bare.cell_tile == x.cell_tile));
  CHECK((bare.rows == x.rows));
  CHECK((bare.cols == x.cols));
  CHECK(bare.cell_row.empty());
}

TEST_CASE("the verifier rejects broken layouts", "[crossbar]") {
  const SparseMatrix a = random_matrix(40, 30, 0.1, 21);
  const TileShape t{8, 8};
  const TileLayout good = build_layout(a, reorder_compact(a, t), t);
  REQUIRE(verify_layout(a, good).ok);
  SECTION("a nonzero pointing at another weight's cell") {
    TileLayout l = good;
    const int32_t t0 = l.cell_tile[0];
    const int32_t rows_in_tile = int32_t(l.row_ptr[t0 + 1] - l.row_ptr[t0]);
    REQUIRE(rows_in_tile >= 2);
    l.cell_row[0] = (l.cell_row[0] + 1) % rows_in_tile;  // the next wordline holds another row
    CHECK_FALSE(verify_layout(a, l).ok);
  }
  SECTION("a tile map naming the wrong row") {
    TileLayout l = good;
    l.rows[0] = (l.rows[0] + 1) % int32_t(a.rows);
    CHECK_FALSE(verify_layout(a, l).ok);
  }
  SECTION("a tile larger than the crossbar") {
    const LayoutCheck c = verify_layout(a, [&] {
      TileLayout l = good;
      l.shape = TileShape{2, 2};
      return l;
    }());
    CHECK_FALSE(c.ok);
  }
  SECTION("a nonzero missing from the maps") {
    TileLayout l = good;
    l.cell_tile.pop_back();
    CHECK_FALSE(verify_layout(a, l).ok);
  }
}

TEST_CASE("best finds hidden dense blocks and merges sparse leftovers", "[crossbar]") {
  SECTION("two dense 4 x 4 blocks scattered over 8 x 8") {
    // Block A: rows {0,2,5,7} x cols {1,3,4,6}; block B: rows {1,3,4,6} x cols {0,2,5,7}.
    // In place every 4 x 4 tile holds part of both; two tiles suffice (and are the bound).
    std::vector<std::pair<int64_t, int64_t>> nz;
    for (int r : {0, 2, 5, 7})
      for (int c : {1, 3, 4, 6}) nz.push_back({r, c});
    for (int r : {1, 3, 4, 6})
      for (int c : {0, 2, 5, 7}) nz.push_back({r, c});
    const SparseMatrix a = from_entries(8, 8, nz);
    CHECK(count_tiles(a, {4, 4}).nonzero_tiles == 4);
    CHECK(tile_lower_bound(a, {4, 4}).best() == 2);
    CHECK(count_assigned_tiles(grow_tiles(a, {4, 4})) == 2);
    CHECK(count_assigned_tiles(reorder_best(a, {4, 4})) == 2);
  }
  SECTION("single nonzeros in different tiles merge into one") {
    // A diagonal of 4 in a 16 x 16 matrix with 4 x 4 tiles: 4 tiles in place, each holding one
    // weight (1 row, 1 column): they fit together in one tile.
    const SparseMatrix a = from_entries(16, 16, {{0, 0}, {5, 5}, {10, 10}, {15, 15}});
    const TileShape t{4, 4};
    const TileAssignment merged = merge_tiles(a, reorder_none(a, t), t);
    CHECK(count_assigned_tiles(merged) == 1);
    CHECK(verify_layout(a, build_layout(a, merged, t)).ok);
  }
}

// Kept (nonzero) vs pruned weights of a pruned model against its unpruned copy: every kept
// weight must be unchanged; records the smallest kept and the largest pruned magnitude.
struct KeptSplit {
  float smallest_kept = 1e9f, largest_pruned = 0.0f;
  int64_t nonzero = 0;
  void add(const float* pruned, const float* fresh, int64_t n) {
    for (int64_t k = 0; k < n; ++k) {
      if (pruned[k] != 0.0f) {
        CHECK(pruned[k] == fresh[k]);
        smallest_kept = std::min(smallest_kept, std::fabs(fresh[k]));
        ++nonzero;
      } else {
        largest_pruned = std::max(largest_pruned, std::fabs(fresh[k]));
      }
    }
  }
};

TEST_CASE("global magnitude pruning keeps the largest weights", "[crossbar]") {
  auto model = make_model(parse_model_name("lenet5"), 3);
  auto fresh = make_model(parse_model_name("lenet5"), 3);
  const int64_t kept = prune_global_magnitude(*model, 0.1);
  CHECK(kept == std::llround(0.1 * 61470));  // LeNet-5 has 61,470 conv/linear weights
  // One global threshold: every kept weight is at least as large as every pruned one.
  KeptSplit all;
  const auto p = model->named_parameters(), f = fresh->named_parameters();
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i].second.dim() >= 2) all.add(p[i].second.data<float>(), f[i].second.data<float>(), p[i].second.numel());
  CHECK(all.nonzero == kept);
  CHECK(all.largest_pruned <= all.smallest_kept);
  CHECK_THROWS_AS(prune_global_magnitude(*model, 0.0), InputError);
  CHECK_THROWS_AS(prune_global_magnitude(*model, 1.5), InputError);
}

TEST_CASE("per-layer magnitude pruning keeps the density in every layer", "[crossbar]") {
  auto model = make_model(parse_model_name("lenet5"), 5);
  auto fresh = make_model(parse_model_name("lenet5"), 5);
  const double density = 0.05;
  const int64_t kept = prune_magnitude(*model, density, PruneScope::Layer);
  const auto p = model->named_parameters(), f = fresh->named_parameters();
  int64_t nonzero_total = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i].second.dim() < 2) continue;
    const int64_t n = p[i].second.numel();
    // Within the layer: round(density * n) kept, every kept weight unchanged and at least as large
    // as every pruned one (the layer's own threshold; other layers play no part).
    KeptSplit layer;
    layer.add(p[i].second.data<float>(), f[i].second.data<float>(), n);
    INFO(p[i].first);
    CHECK(layer.nonzero == std::llround(density * double(n)));
    CHECK(layer.largest_pruned <= layer.smallest_kept);
    nonzero_total += layer.nonzero;
  }
  CHECK(kept == nonzero_total);
  CHECK(parse_prune_scope("layer") == PruneScope::Layer);
  CHECK(parse_prune_scope("global") == PruneScope::Global);
  CHECK_THROWS_AS(parse_prune_scope("model"), InputError);
  CHECK_THROWS_AS(prune_magnitude(*model, 0.0, PruneScope::Layer), InputError);
}

TEST_CASE("Matrix Market and .npy readers", "[crossbar]") {
  SECTION("a good .mtx") {
    const std::string p = temp_file("good.mtx", "%%MatrixMarket matrix coordinate real general\n% comment\n3 4 3\n1 1 2.5\n3 4 -1\n2 2 7\n");
    const SparseMatrix m = read_matrix_market(p);
    CHECK(m.rows == 3);
    CHECK(m.cols == 4);
    CHECK(m.row_ptr == std::vector<int64_t>{0, 1, 2, 3});
    CHECK(std::vector<int32_t>(m.col_idx.begin(), m.col_idx.end()) == std::vector<int32_t>{0, 1, 3});
    CHECK(std::vector<float>(m.values.begin(), m.values.end()) == std::vector<float>{2.5f, 7.0f, -1.0f});
  }
  SECTION("pattern") {
    const SparseMatrix m = read_matrix_market(temp_file("pat.mtx", "%%MatrixMarket matrix coordinate pattern general\n2 2 1\n2 1\n"));
    CHECK(m.nnz() == 1);
    CHECK(m.values[0] == 1.0f);
  }
  auto message = [](const std::string& path) {
    try {
      read_matrix_file(path, "--matrix");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  SECTION("malformed .mtx files name the file and the problem") {
    const std::string bad_header = temp_file("h.mtx", "%%MatrixMarket matrix array real general\n2 2\n1\n2\n3\n4\n");
    CHECK_THAT(message(bad_header), Catch::Contains(bad_header) && Catch::Contains("header"));
    const std::string out_of_range = temp_file("r.mtx", "%%MatrixMarket matrix coordinate real general\n2 2 1\n3 1 1.0\n");
    CHECK_THAT(message(out_of_range), Catch::Contains(out_of_range) && Catch::Contains("out of range"));
    const std::string duplicate = temp_file("d.mtx", "%%MatrixMarket matrix coordinate real general\n2 2 2\n1 2 1.0\n1 2 3.0\n");
    CHECK_THAT(message(duplicate), Catch::Contains(duplicate) && Catch::Contains("duplicate entry (1, 2)"));
    const std::string short_file = temp_file("s.mtx", "%%MatrixMarket matrix coordinate real general\n2 2 3\n1 2 1.0\n");
    CHECK_THAT(message(short_file), Catch::Contains("ends after 1 of the 3 entries"));
  }
  SECTION(".npy float32 and float64") {
    auto npy = [](const std::string& descr, const std::string& raw) {
      std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (2, 3), }";
      while ((10 + header.size() + 1) % 64) header += ' ';
      header += '\n';
      std::string f = "\x93NUMPY\x01";
      f += '\0';
      f += char(header.size() & 255);
      f += char(header.size() >> 8);
      return f + header + raw;
    };
    const float f32[6] = {0, 1.5f, 0, 0, 0, -2};
    const SparseMatrix a = read_npy_matrix(temp_file("a.npy", npy("<f4", std::string(reinterpret_cast<const char*>(f32), 24))));
    CHECK(a.rows == 2);
    CHECK(a.cols == 3);
    CHECK(std::vector<int32_t>(a.col_idx.begin(), a.col_idx.end()) == std::vector<int32_t>{1, 2});
    CHECK(std::vector<float>(a.values.begin(), a.values.end()) == std::vector<float>{1.5f, -2.0f});
    const double f64[6] = {3, 0, 0, 0, 4, 0};
    const SparseMatrix b = read_npy_matrix(temp_file("b.npy", npy("<f8", std::string(reinterpret_cast<const char*>(f64), 48))));
    CHECK(std::vector<int32_t>(b.col_idx.begin(), b.col_idx.end()) == std::vector<int32_t>{0, 1});
    const std::string wrong = temp_file("c.npy", npy("<i4", std::string(24, '\0')));
    CHECK_THAT(message(wrong), Catch::Contains(wrong) && Catch::Contains("float32 or float64"));
    const std::string truncated = temp_file("t.npy", npy("<f4", std::string(10, '\0')));
    CHECK_THAT(message(truncated), Catch::Contains("data ends"));
  }
  SECTION("unknown extension") { CHECK_THAT(message("/tmp/x.csv"), Catch::Contains("--matrix")); }
}

TEST_CASE("tile sizes and strategy lists are parsed with clear errors", "[crossbar]") {
  CHECK(parse_tile_shape("128", "--size").rows == 128);
  const TileShape r = parse_tile_shape("256x64", "--rect");
  CHECK((r.rows == 256 && r.cols == 64));
  CHECK_THROWS_AS(parse_tile_shape("0", "--size"), InputError);
  CHECK_THROWS_AS(parse_tile_shape("12a", "--size"), InputError);
  CHECK_THROWS_AS(parse_tile_shape("8x", "--rect"), InputError);
  CHECK(parse_strategy_list("none,best", "--strategy") == std::vector<std::string>{"none", "best"});
  CHECK_THROWS_AS(parse_strategy_list("none,magic", "--strategy"), InputError);
  CHECK_THROWS_AS(parse_strategy_list("none,none", "--strategy"), InputError);
}

TEST_CASE("GPU counts, compaction count and map, and CSC equal the CPU's", "[crossbar][cuda]") {
  if (!gpu_counting_available()) {
    WARN("no CUDA device (or a build without CUDA): GPU crossbar test skipped");
    return;
  }
  int seed = 100;
  for (const TileShape t : {TileShape{128, 128}, TileShape{64, 64}, TileShape{8, 8}, TileShape{5, 7}}) {
    for (const SparseMatrix& a : {random_matrix(3000, 700, 0.01, ++seed), power_law_matrix(2000, 900, 30000, ++seed),
                                  from_entries(3, 3, {})}) {
      CHECK(count_tiles_gpu(a, t) == count_tiles(a, t));
      CHECK(count_compact_tiles_gpu(a, t) == count_compact_tiles(a, t));
      const TileAssignment gm = reorder_compact_gpu(a, t), cm = reorder_compact(a, t);
      CHECK(gm.grid_rows == cm.grid_rows);
      CHECK(gm.grid_cols == cm.grid_cols);
      CHECK(gm.tile_of_nonzero == cm.tile_of_nonzero);
      CHECK(reorder_spara(a, transpose_gpu(a), t).tile_of_nonzero == reorder_spara(a, t).tile_of_nonzero);
      const SparseMatrix ct = transpose_gpu(a), cc = transpose(a);
      CHECK(ct.row_ptr == cc.row_ptr);
      CHECK(ct.col_idx == cc.col_idx);
      CHECK(ct.values == cc.values);
    }
  }
}
