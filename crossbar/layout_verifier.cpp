// Layout verification (see layout_verifier.h). Written for clarity, not speed: it rebuilds the
// matrix from the tile cells through an independent path (sort of cell triplets).
#include "crossbar/layout_verifier.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace stuckat::xbar {
namespace {

LayoutCheck fail(std::string why) { return LayoutCheck{false, std::move(why)}; }

}  // namespace

LayoutCheck verify_layout(const SparseMatrix& a, const TileLayout& l) {
  const int64_t tiles = l.tiles(), nnz = a.nnz();
  if (int64_t(l.row_ptr.size()) != tiles + 1 || int64_t(l.col_ptr.size()) != tiles + 1)
    return fail("index map pointers do not match the tile count");
  if (int64_t(l.cell_tile.size()) != nnz || int64_t(l.cell_row.size()) != nnz || int64_t(l.cell_col.size()) != nnz)
    return fail(fmt::format("cell maps cover {} nonzeros, the matrix has {}", l.cell_tile.size(), nnz));

  // Each tile: fits the crossbar, maps are in range and unique (a wordline/bitline holds one index).
  std::vector<int64_t> row_seen(static_cast<size_t>(a.rows), -1), col_seen(static_cast<size_t>(a.cols), -1);
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t nr = l.row_ptr[t + 1] - l.row_ptr[t], nc = l.col_ptr[t + 1] - l.col_ptr[t];
    if (nr < 0 || nc < 0 || nr > l.shape.rows || nc > l.shape.cols)
      return fail(fmt::format("tile {} uses {} x {} cells of a {} x {} crossbar", t, nr, nc, l.shape.rows, l.shape.cols));
    if (l.tile_grid[t] < 0 || l.tile_grid[t] >= l.grid_rows * l.grid_cols || (t > 0 && l.tile_grid[t] <= l.tile_grid[t - 1]))
      return fail(fmt::format("tile {} has grid cell {} (out of range or repeated)", t, l.tile_grid[t]));
    for (int64_t i = l.row_ptr[t]; i < l.row_ptr[t + 1]; ++i) {
      const int32_t r = l.rows[i];
      if (r < 0 || r >= a.rows || row_seen[r] == t) return fail(fmt::format("tile {} maps row {} twice or out of range", t, r));
      row_seen[r] = t;
    }
    for (int64_t j = l.col_ptr[t]; j < l.col_ptr[t + 1]; ++j) {
      const int32_t c = l.cols[j];
      if (c < 0 || c >= a.cols || col_seen[c] == t) return fail(fmt::format("tile {} maps column {} twice or out of range", t, c));
      col_seen[c] = t;
    }
  }

  // Program the tiles: nonzero k goes to its cell; its maps must point back at (r, c).
  struct Cell {
    int64_t tile, i, j;
    float value;
  };
  std::vector<Cell> cells;
  cells.reserve(static_cast<size_t>(nnz));
  std::vector<char> tile_used(static_cast<size_t>(tiles), 0);
  for (int64_t r = 0; r < a.rows; ++r) {
    for (int64_t k = a.row_ptr[r]; k < a.row_ptr[r + 1]; ++k) {
      const int64_t t = l.cell_tile[k], i = l.cell_row[k], j = l.cell_col[k];
      if (t < 0 || t >= tiles || i < 0 || i >= l.row_ptr[t + 1] - l.row_ptr[t] || j < 0 ||
          j >= l.col_ptr[t + 1] - l.col_ptr[t])
        return fail(fmt::format("nonzero ({}, {}) has no valid cell", r, a.col_idx[k]));
      if (l.rows[l.row_ptr[t] + i] != r || l.cols[l.col_ptr[t] + j] != a.col_idx[k])
        return fail(fmt::format("nonzero ({}, {}) is mapped to a cell of another weight", r, a.col_idx[k]));
      cells.push_back({t, i, j, a.values[k]});
      tile_used[t] = 1;
    }
  }
  for (int64_t t = 0; t < tiles; ++t)
    if (!tile_used[t]) return fail(fmt::format("tile {} holds no nonzero", t));
  std::sort(cells.begin(), cells.end(), [](const Cell& x, const Cell& y) {
    return x.tile != y.tile ? x.tile < y.tile : x.i != y.i ? x.i < y.i : x.j < y.j;
  });
  for (size_t q = 1; q < cells.size(); ++q)
    if (cells[q].tile == cells[q - 1].tile && cells[q].i == cells[q - 1].i && cells[q].j == cells[q - 1].j)
      return fail(fmt::format("two nonzeros share cell ({}, {}) of tile {}", cells[q].i, cells[q].j, cells[q].tile));

  // Reconstruct from the tile cells alone and compare with the original, bit for bit.
  std::vector<Triplet> back;
  back.reserve(cells.size());
  for (const Cell& c : cells)
    back.push_back({l.rows[l.row_ptr[c.tile] + c.i], l.cols[l.col_ptr[c.tile] + c.j], c.value});
  SparseMatrix rebuilt;
  if (!csr_from_triplets(std::move(back), a.rows, a.cols, &rebuilt)) return fail("two tile cells hold the same weight");
  if (rebuilt.row_ptr != a.row_ptr || rebuilt.col_idx != a.col_idx)
    return fail("the matrix rebuilt from the tiles has another nonzero pattern");
  if (std::memcmp(rebuilt.values.data(), a.values.data(), a.values.size() * sizeof(float)) != 0)
    return fail("the matrix rebuilt from the tiles has other values");
  return {};
}

}  // namespace stuckat::xbar
