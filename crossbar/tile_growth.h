// Greedy tile growth, the core of strategy "best": tiles are grown one at a time on the
// bipartite graph rows <-> columns. A tile starts from the vertex with the most unassigned
// nonzeros and repeatedly takes the row or column that brings the most unassigned nonzeros into
// it (edges to the rows/columns already in the tile), while it has free wordlines/bitlines; when
// nothing connects any more it restarts from a fresh seed. Every unassigned nonzero between the
// tile's rows and columns is assigned to it. Rows and columns may appear in several tiles, so a
// dense cluster never has to share a tile with its whole row band (unlike band-based strategies).
#pragma once
#include "crossbar/sparse_matrix.h"
#include "crossbar/tile_layout.h"
#include "crossbar/tile_shape.h"

namespace stuckat::xbar {

TileAssignment grow_tiles(const SparseMatrix& a, TileShape t);

}  // namespace stuckat::xbar
