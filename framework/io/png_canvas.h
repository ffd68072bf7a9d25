// PngCanvas: a small RGB raster with lines, rectangles and text (stb_easy_font glyphs, scaled)
// written as PNG (stb_image_write), enough for readable charts and tile pictures without an
// external plotting program.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stuckat {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

class PngCanvas {
 public:
  PngCanvas(int width, int height, Rgb background = {255, 255, 255});
  int width() const { return width_; }
  int height() const { return height_; }
  void fill_rect(int x0, int y0, int x1, int y1, Rgb c);  // inclusive-exclusive, clipped
  // A line `thickness` pixels wide; dashed: drawn 8 px on, 5 px off.
  void line(double x0, double y0, double x1, double y1, Rgb c, int thickness = 1, bool dashed = false);
  // Text with its top-left corner at (x, y); glyphs are ~7 px high before `scale`.
  void text(int x, int y, const std::string& s, Rgb c, int scale = 2);
  static int text_width(const std::string& s, int scale = 2);
  // Throws InputError naming the file when it cannot be written.
  void save_png(const std::string& path) const;

 private:
  int width_, height_;
  std::vector<uint8_t> pixels_;  // (height, width, 3), row-major
};

}  // namespace stuckat
