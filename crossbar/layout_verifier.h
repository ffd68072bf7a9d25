// Checks a tile layout against its matrix: every tile fits R x C with unique in-range index
// maps and at least one nonzero, every nonzero sits in exactly one tile cell whose maps point back
// at it, and the matrix rebuilt from the programmed tile cells alone equals the original
// (pattern and values, bit for bit).
#pragma once
#include <string>

#include "crossbar/sparse_matrix.h"
#include "crossbar/tile_layout.h"

namespace stuckat::xbar {

struct LayoutCheck {
  bool ok = true;
  std::string problem;  // the first problem found, empty when ok
};

LayoutCheck verify_layout(const SparseMatrix& a, const TileLayout& l);

}  // namespace stuckat::xbar
