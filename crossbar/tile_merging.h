// Tile merging, the second half of strategy "best": tiles that use few wordlines and few
// bitlines (leftovers of a band, or the last tiles of a greedy growth) are packed together. Two
// tiles fit in one crossbar when their row sets together need at most R rows and their column
// sets at most C columns; each nonzero keeps its own cell, so a merged tile is still exact.
// First-fit decreasing over the tiles, largest (by the fuller side) first.
#pragma once
#include "crossbar/sparse_matrix.h"
#include "crossbar/tile_layout.h"
#include "crossbar/tile_shape.h"

namespace stuckat::xbar {

TileAssignment merge_tiles(const SparseMatrix& a, const TileAssignment& s, TileShape t);

}  // namespace stuckat::xbar
