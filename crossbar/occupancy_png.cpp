// Tile occupancy pictures (see occupancy_png.h), drawn with PngCanvas.
#include "crossbar/occupancy_png.h"

#include <algorithm>

#include "framework/io/png_canvas.h"

namespace stuckat::xbar {

OccupancyPanel occupancy_panel(const std::string& title, const TileAssignment& s) {
  OccupancyPanel p;
  p.title = title;
  p.grid_rows = s.grid_rows;
  p.grid_cols = s.grid_cols;
  p.used.assign(s.tile_of_nonzero.begin(), s.tile_of_nonzero.end());
  std::sort(p.used.begin(), p.used.end());
  p.used.erase(std::unique(p.used.begin(), p.used.end()), p.used.end());
  return p;
}

void write_occupancy_png(const std::string& path, const std::string& title, const std::vector<OccupancyRow>& rows) {
  constexpr int kMaxPanel = 240, kGap = 14, kLabel = 22, kTitle = 30;
  const Rgb used{40, 70, 160}, empty{225, 230, 240}, ink{20, 20, 20};
  // Pixel size per tile and downsampling per panel.
  struct Geometry {
    int64_t step = 1;  // tiles per pixel block
    int cell = 1;      // pixels per block
    int w = 0, h = 0;
  };
  auto geometry = [&](const OccupancyPanel& p) {
    Geometry g;
    const int64_t side = std::max<int64_t>({p.grid_rows, p.grid_cols, 1});
    g.step = (side + kMaxPanel - 1) / kMaxPanel;
    const int64_t blocks = (side + g.step - 1) / g.step;
    g.cell = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(12, kMaxPanel / blocks)));
    g.w = static_cast<int>((p.grid_cols + g.step - 1) / g.step) * g.cell;
    g.h = static_cast<int>((p.grid_rows + g.step - 1) / g.step) * g.cell;
    return g;
  };
  int width = 0, height = kTitle;
  for (const OccupancyRow& row : rows) {
    int w = kGap, h = 0;
    for (const OccupancyPanel& p : row.panels) {
      const Geometry g = geometry(p);
      w += std::max(g.w, PngCanvas::text_width(p.title, 1) + 4) + kGap;
      h = std::max(h, g.h);
    }
    width = std::max(width, w);
    height += kLabel * 2 + h + kGap;
  }
  width = std::max(width, PngCanvas::text_width(title, 2) + 2 * kGap);
  PngCanvas canvas(width, height);
  canvas.text(kGap, 8, title, ink, 2);
  int y = kTitle;
  for (const OccupancyRow& row : rows) {
    canvas.text(kGap, y + 4, row.label, ink, 1);
    int x = kGap, h = 0;
    for (const OccupancyPanel& p : row.panels) {
      const Geometry g = geometry(p);
      canvas.text(x, y + kLabel, p.title, ink, 1);
      const int y0 = y + kLabel * 2;
      canvas.fill_rect(x, y0, x + g.w, y0 + g.h, empty);
      for (int64_t key : p.used) {
        const int64_t gr = key / p.grid_cols, gc = key % p.grid_cols;
        const int px = x + static_cast<int>(gc / g.step) * g.cell, py = y0 + static_cast<int>(gr / g.step) * g.cell;
        const int inset = g.cell >= 4 ? 1 : 0;  // a light seam between tiles when they are large enough
        canvas.fill_rect(px, py, px + g.cell - inset, py + g.cell - inset, used);
      }
      x += std::max(g.w, PngCanvas::text_width(p.title, 1) + 4) + kGap;
      h = std::max(h, g.h);
    }
    y += kLabel * 2 + h + kGap;
  }
  canvas.save_png(path);
}

}  // namespace stuckat::xbar
