// Strategy "best", stuckat's own: candidates are greedy tile growth (tile_growth.h) and compaction
// along rows and along columns (compaction of the transpose), each followed by tile merging
// (tile_merging.h), and every other strategy as it stands; the one needing the fewest tiles wins.
// So "best" never needs more tiles than any other strategy, and the greedy growth plus merging is
// what takes it below them.
//
// The other strategies are not merged: merged, they never beat growth (none, rcm, rcm-sym,
// rcm-slices, spara on every layer of magnitude-pruned VGG11 and ResNet-18 at 4% and 1%, tiles of
// 128, 64 and 8, and on synthetic matrices of 1e6-1e7 nonzeros, where they end ~3x above it), and
// their five merges took half the time at 1e7 nonzeros. Growth, the longest part, runs on one
// thread while the rest run on the others. STUCKAT_XBAR_TRACE=1 prints each candidate's time and
// tiles.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "crossbar/strategies.h"
#include "crossbar/tile_growth.h"
#include "crossbar/tile_merging.h"

namespace stuckat::xbar {
namespace {

// Compaction of the transpose (column bands, all-zero rows moved out per band), mapped back.
TileAssignment compact_columns(const SparseMatrix& a, TileShape t) {
  const SparseMatrix at = transpose(a);
  const TileAssignment st = reorder_compact(at, TileShape{t.cols, t.rows});
  // at's nonzero q is a's nonzero (r, c) with at row c, at column r; find its CSR index in a.
  std::vector<int64_t> next(a.row_ptr.begin(), a.row_ptr.end() - 1);
  TileAssignment s;
  s.grid_rows = st.grid_cols;
  s.grid_cols = st.grid_rows;
  s.tile_of_nonzero.resize(static_cast<size_t>(a.nnz()));
  for (int64_t c = 0; c < at.rows; ++c)
    for (int64_t q = at.row_ptr[c]; q < at.row_ptr[c + 1]; ++q) {
      const int64_t key = st.tile_of_nonzero[q];  // (band of columns) * grid + slot of rows
      s.tile_of_nonzero[next[at.col_idx[q]]++] = (key % st.grid_cols) * s.grid_cols + key / st.grid_cols;
    }
  return s;
}

}  // namespace

TileAssignment reorder_best(const SparseMatrix& a, TileShape t) {
  std::vector<std::string> names{"growth+merge", "compact+merge", "compact-columns+merge"};
  for (const std::string& name : strategy_names())
    if (name != "best" && name != "compact") names.push_back(name);
  const int64_t k = static_cast<int64_t>(names.size());
  std::vector<TileAssignment> candidates(static_cast<size_t>(k));
  std::vector<double> seconds(static_cast<size_t>(k), 0.0), merge_seconds(static_cast<size_t>(k), 0.0);
  // Candidate 0 (growth) is the longest: it starts first, on a thread of its own.
  auto since = [](std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < k; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    TileAssignment& c = candidates[static_cast<size_t>(i)];
    c = i == 0 ? grow_tiles(a, t) : i == 1 ? reorder_compact(a, t) : i == 2 ? compact_columns(a, t)
                                                                       : run_strategy(names[static_cast<size_t>(i)], a, t);
    seconds[static_cast<size_t>(i)] = since(t0);
    if (i < 3) {
      const auto t1 = std::chrono::steady_clock::now();
      c = merge_tiles(a, c, t);
      merge_seconds[static_cast<size_t>(i)] = since(t1);
    }
  }
  const bool trace = std::getenv("STUCKAT_XBAR_TRACE") != nullptr;
  size_t best = 0;
  int64_t best_tiles = -1;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const int64_t n = count_assigned_tiles(candidates[i]);
    if (trace)
      std::fprintf(stderr, "xbar trace: best: %-22s %10lld tiles %9.3f s + merging %.3f s (thread time)\n",
                   names[i].c_str(), static_cast<long long>(n), seconds[i], merge_seconds[i]);
    if (best_tiles < 0 || n < best_tiles) best_tiles = n, best = i;  // ties: the earlier candidate
  }
  return std::move(candidates[best]);
}

}  // namespace stuckat::xbar
