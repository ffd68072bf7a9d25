// Strategy "best", stuckat's own: candidates are greedy tile growth (tile_growth.h), compaction
// along rows and along columns (compaction of the transpose), and every other strategy; each
// candidate then goes through tile merging (tile_merging.h) and the one needing the fewest tiles
// wins. So "best" never needs more tiles than any other strategy, and the greedy growth plus
// merging is what usually takes it below them.
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
  std::vector<TileAssignment> candidates;
  candidates.push_back(grow_tiles(a, t));
  candidates.push_back(reorder_compact(a, t));
  candidates.push_back(compact_columns(a, t));
  for (const std::string& name : strategy_names())
    if (name != "best" && name != "compact") candidates.push_back(run_strategy(name, a, t));
  TileAssignment best;
  int64_t best_tiles = -1;
  for (const TileAssignment& c : candidates) {
    TileAssignment merged = merge_tiles(a, c, t);
    const int64_t n = count_assigned_tiles(merged);
    if (best_tiles < 0 || n < best_tiles) {
      best_tiles = n;
      best = std::move(merged);
    }
  }
  return best;
}

}  // namespace stuckat::xbar
