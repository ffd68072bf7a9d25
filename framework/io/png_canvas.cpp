// Rasterising lines and stb_easy_font text; PNG output through stb_image_write.
#include "framework/io/png_canvas.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/error.h"
#include "framework/io/atomic_file.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#include <stb/stb_easy_font.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace stuckat {

PngCanvas::PngCanvas(int width, int height, Rgb background)
    : width_(width), height_(height), pixels_(static_cast<size_t>(width) * static_cast<size_t>(height) * 3) {
  fill_rect(0, 0, width, height, background);
}

void PngCanvas::fill_rect(int x0, int y0, int x1, int y1, Rgb c) {
  x0 = std::max(x0, 0), y0 = std::max(y0, 0), x1 = std::min(x1, width_), y1 = std::min(y1, height_);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) {
      uint8_t* p = &pixels_[(static_cast<size_t>(y) * static_cast<size_t>(width_) + static_cast<size_t>(x)) * 3];
      p[0] = c.r, p[1] = c.g, p[2] = c.b;
    }
}

void PngCanvas::line(double x0, double y0, double x1, double y1, Rgb c, int thickness, bool dashed) {
  const double len = std::hypot(x1 - x0, y1 - y0);
  const int steps = std::max(1, static_cast<int>(std::ceil(len * 2)));  // half-pixel steps leave no gaps
  const int lo = -(thickness - 1) / 2, hi = thickness / 2;
  for (int i = 0; i <= steps; ++i) {
    const double t = static_cast<double>(i) / steps;
    if (dashed && std::fmod(t * len, 13.0) > 8.0) continue;
    const int x = static_cast<int>(std::lround(x0 + t * (x1 - x0)));
    const int y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
    fill_rect(x + lo, y + lo, x + hi + 1, y + hi + 1, c);
  }
}

void PngCanvas::text(int x, int y, const std::string& s, Rgb c, int scale) {
  // 64 bytes per quad and up to ~12 quads per glyph; quads past the end of the buffer are dropped.
  std::vector<char> buffer(s.size() * 1024 + 64);
  std::vector<char> str(s.begin(), s.end());
  str.push_back('\0');
  unsigned char color[4] = {c.r, c.g, c.b, 255};
  const int quads = stb_easy_font_print(0, 0, str.data(), color, buffer.data(), static_cast<int>(buffer.size()));
  for (int q = 0; q < quads; ++q) {
    // Each quad is four vertices of (x, y, z float, rgba bytes) = 16 bytes; glyph quads are axis-aligned.
    float v[4][2];
    for (int k = 0; k < 4; ++k) std::memcpy(v[k], buffer.data() + (q * 4 + k) * 16, 2 * sizeof(float));
    const float qx0 = std::min({v[0][0], v[1][0], v[2][0], v[3][0]}), qx1 = std::max({v[0][0], v[1][0], v[2][0], v[3][0]});
    const float qy0 = std::min({v[0][1], v[1][1], v[2][1], v[3][1]}), qy1 = std::max({v[0][1], v[1][1], v[2][1], v[3][1]});
    auto px = [scale](float v) { return static_cast<int>(std::lround(v * static_cast<float>(scale))); };
    fill_rect(x + px(qx0), y + px(qy0), x + px(qx1), y + px(qy1), c);
  }
}

int PngCanvas::text_width(const std::string& s, int scale) {
  std::vector<char> str(s.begin(), s.end());
  str.push_back('\0');
  return stb_easy_font_width(str.data()) * scale;
}

void PngCanvas::save_png(const std::string& path) const {
  if (!stbi_write_png(temporary_path(path).c_str(), width_, height_, 3, pixels_.data(), width_ * 3))
    throw_input_error("cannot write the PNG file {}", path);
  replace_with_temporary(path);
}

}  // namespace stuckat
