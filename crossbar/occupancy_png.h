// Tile occupancy pictures: one row of panels per layer (or one for a whole matrix), the first
// panel the matrix tiled in place, then one per strategy; each square is a tile of the panel's
// grid, dark when the tile holds a nonzero and light when it is empty (dropped). Grids larger than
// the panel are shown downsampled (a pixel is dark when any of its tiles is used).
#pragma once
#include <string>
#include <vector>

#include "crossbar/tile_layout.h"

namespace stuckat::xbar {

struct OccupancyPanel {
  std::string title;
  int64_t grid_rows = 0, grid_cols = 0;
  std::vector<int64_t> used;  // grid cells (grid_row * grid_cols + grid_col) holding a tile
};

struct OccupancyRow {
  std::string label;  // layer name and shape
  std::vector<OccupancyPanel> panels;
};

OccupancyPanel occupancy_panel(const std::string& title, const TileAssignment& s);

// Throws InputError naming the file when it cannot be written.
void write_occupancy_png(const std::string& path, const std::string& title, const std::vector<OccupancyRow>& rows);

}  // namespace stuckat::xbar
