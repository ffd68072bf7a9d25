// Strategy "rcm-slices": a conv layer's (in*K, out) matrix split into its K kernel-position
// slices (in x out), each reordered by rcm (non-symmetric mode, padded square) and tiled on its
// own; the slices' tile grids are stacked. A matrix with one kernel position is plain rcm.
#include <algorithm>

#include "crossbar/strategies.h"

namespace stuckat::xbar {

TileAssignment reorder_rcm_slices(const SparseMatrix& a, TileShape t) {
  const int64_t positions = a.kernel_positions;
  if (positions <= 1) return reorder_rcm(a, t, false);
  TileAssignment s;
  s.tile_of_nonzero.resize(static_cast<size_t>(a.nnz()));
  std::vector<TileAssignment> parts;
  for (int64_t p = 0; p < positions; ++p) {
    parts.push_back(reorder_rcm(kernel_position_slice(a, p), t, false));
    s.grid_cols = std::max(s.grid_cols, parts.back().grid_cols);
  }
  int64_t row_offset = 0;
  for (int64_t p = 0; p < positions; ++p) {
    const TileAssignment& part = parts[p];
    int64_t sk = 0;  // nonzero index within the slice, in slice CSR order
    for (int64_t i = 0; i < a.rows / positions; ++i) {
      const int64_t r = i * positions + p;
      for (int64_t k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k, ++sk) {
        const int64_t key = part.tile_of_nonzero[sk];
        s.tile_of_nonzero[k] = (row_offset + key / part.grid_cols) * s.grid_cols + key % part.grid_cols;
      }
    }
    row_offset += part.grid_rows;
  }
  s.grid_rows = row_offset;
  return s;
}

}  // namespace stuckat::xbar
