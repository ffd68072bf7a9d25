// Rendering of weight histograms as stacked bar charts.
#include "faults/weight_histogram_png.h"

#include <fmt/format.h>

#include <algorithm>

#include "framework/io/png_canvas.h"

namespace stuckat {

void write_weight_histogram_png(const std::string& title, const std::vector<LayerHistogram>& layers,
                                const std::string& path) {
  constexpr int kWidth = 720, kLeft = 60, kRight = 20, kTitle = 40, kPanel = 130, kGap = 30;
  const int height = kTitle + static_cast<int>(layers.size()) * (kPanel + kGap) + 10;
  PngCanvas c(kWidth, height);
  const Rgb black{0, 0, 0}, bar{52, 101, 164}, grey{170, 170, 170};
  c.text((kWidth - PngCanvas::text_width(title)) / 2, 12, title, black);
  int top = kTitle;
  for (const LayerHistogram& lh : layers) {
    const WeightHistogram& h = lh.histogram;
    const std::string label = fmt::format("{}: {} weights, {} zero, {} non-finite", lh.layer, h.total, h.zeros,
                                          h.nonfinite);
    c.text(kLeft, top, label, black, 1);
    const int y0 = top + 14, y1 = top + kPanel - 14;  // bar area
    const int x0 = kLeft, x1 = kWidth - kRight;
    c.line(x0, y1, x1, y1, grey);
    const int64_t tallest = h.counts.empty() ? 0 : *std::max_element(h.counts.begin(), h.counts.end());
    const int bins = static_cast<int>(h.counts.size());
    for (int b = 0; b < bins && tallest > 0; ++b) {
      const int bx0 = x0 + (x1 - x0) * b / bins, bx1 = std::max(bx0 + 1, x0 + (x1 - x0) * (b + 1) / bins - 1);
      const int bh = static_cast<int>(static_cast<double>(y1 - y0) * static_cast<double>(h.counts[b]) /
                                      static_cast<double>(tallest));
      c.fill_rect(bx0, y1 - bh, bx1, y1, bar);
    }
    c.text(x0, y1 + 4, fmt::format("{:.4g}", h.lo), black, 1);
    const std::string hi = fmt::format("{:.4g}", h.hi);
    c.text(x1 - PngCanvas::text_width(hi, 1), y1 + 4, hi, black, 1);
    const std::string peak = fmt::format("{}", tallest);
    c.text(x0 - 6 - PngCanvas::text_width(peak, 1), y0, peak, black, 1);
    top += kPanel + kGap;
  }
  c.save_png(path);
}

}  // namespace stuckat
