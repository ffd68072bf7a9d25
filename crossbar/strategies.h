// The reordering strategies compared side by side, one file each:
//   none        tiles in place; all-zero tiles are dropped            (strategy_none.cpp)
//   compact     gather nonzero rows, then per row band move all-zero  (strategy_compact.cpp)
//               columns out and pack the rest into tiles
//   rcm         reverse Cuthill-McKee on the padded square, A + A^T   (strategy_rcm.cpp)
//   rcm-sym     the same in symmetric mode (A's own pattern)          (strategy_rcm.cpp)
//   rcm-slices  rcm per kernel-position (in x out) slice              (strategy_rcm_slices.cpp)
//   spara       crossbar-bounded bipartite graph reordering           (strategy_spara.cpp)
//   best        stuckat's own: greedy tile growth + tile merging,     (strategy_best.cpp)
//               never worse than the others
// Each returns which tile holds every nonzero (TileAssignment); build_layout gives the maps.
#pragma once
#include <string>
#include <vector>

#include "crossbar/sparse_matrix.h"
#include "crossbar/tile_layout.h"
#include "crossbar/tile_shape.h"

namespace stuckat::xbar {

TileAssignment reorder_none(const SparseMatrix& a, TileShape t);
TileAssignment reorder_compact(const SparseMatrix& a, TileShape t);
TileAssignment reorder_rcm(const SparseMatrix& a, TileShape t, bool symmetric_mode);
TileAssignment reorder_rcm_slices(const SparseMatrix& a, TileShape t);
TileAssignment reorder_spara(const SparseMatrix& a, TileShape t);
// The same with the CSC given (`at` = transpose(a), e.g. built on the GPU by transpose_gpu): the
// sweep itself is sequential (each block depends on everything visited before it).
TileAssignment reorder_spara(const SparseMatrix& a, const SparseMatrix& at, TileShape t);
TileAssignment reorder_best(const SparseMatrix& a, TileShape t);

// Tiles compaction needs, counted in one O(nnz) pass without building the assignment
// (= count_assigned_tiles(reorder_compact(a, t))).
int64_t count_compact_tiles(const SparseMatrix& a, TileShape t);

// The orders spara produces (position -> original row / column), exposed for tests.
struct SparaOrders {
  std::vector<int32_t> row_order, col_order;
};
SparaOrders spara_orders(const SparseMatrix& a, TileShape t);
SparaOrders spara_orders(const SparseMatrix& a, const SparseMatrix& at, TileShape t);

// "none", "compact", ... in the order above.
const std::vector<std::string>& strategy_names();
// Comma-separated list -> names; throws InputError naming `flag` for an unknown or repeated one.
std::vector<std::string> parse_strategy_list(const std::string& text, const std::string& flag);
// Runs a strategy by name (must be one of strategy_names()).
TileAssignment run_strategy(const std::string& name, const SparseMatrix& a, TileShape t);

}  // namespace stuckat::xbar
