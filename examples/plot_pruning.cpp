// plot_pruning: draws test accuracy vs density (log scale, 100% on the left down to the
// sparsest point) from a CSV of `series,density,test_acc` rows, one line per series (several
// rows of one series at one density are averaged, e.g. seeds), as a PNG on framework/io's
// PngCanvas. Used by examples/pruning_experiments.sh. Series names must not contain commas.
//   plot_pruning results.csv accuracy_vs_density.png ["title"] [dense accuracy for a dashed line]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "framework/io/png_canvas.h"

using namespace stuckat;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: plot_pruning results.csv out.png [title] [reference accuracy]\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "plot_pruning: cannot read %s\n", argv[1]);
    return 2;
  }
  const std::string title = argc > 3 ? argv[3] : "test accuracy vs density";
  const double reference = argc > 4 ? std::stod(argv[4]) : NAN;
  std::vector<std::string> order;
  std::map<std::string, std::map<double, std::pair<double, int>>> series;  // name -> density -> (sum, n)
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string name, d, a;
    if (!std::getline(ss, name, ',') || !std::getline(ss, d, ',') || !std::getline(ss, a, ',')) continue;
    char* end = nullptr;
    const double density = std::strtod(d.c_str(), &end);
    if (end == d.c_str() || density <= 0) continue;  // header
    if (!series.count(name)) order.push_back(name);
    auto& cell = series[name][density];
    cell.first += std::stod(a);
    cell.second += 1;
  }
  double dmin = 1, amin = 1, amax = 0;
  for (auto& [name, pts] : series)
    for (auto& [d, v] : pts) {
      dmin = std::min(dmin, d);
      amin = std::min(amin, v.first / v.second);
      amax = std::max(amax, v.first / v.second);
    }
  if (!std::isnan(reference)) amax = std::max(amax, reference);
  const double lo = std::floor(amin * 10) / 10, hi = std::min(1.0, std::ceil(amax * 20) / 20);
  const int width = 960, height = 600, left = 90, right = 280, top = 60, bottom = 80;
  const int x0 = left, x1 = width - right, y0 = top, y1 = height - bottom;
  const Rgb black{0, 0, 0}, grey{220, 220, 220}, dark{90, 90, 90};
  const Rgb palette[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}, {140, 86, 75}};
  PngCanvas c(width, height);
  c.text((width - PngCanvas::text_width(title)) / 2, 12, title, black);
  const double lmin = std::log10(dmin) - 0.05;
  auto xpix = [&](double d) { return x0 + (0.0 - std::log10(d)) / (0.0 - lmin) * (x1 - x0 - 20) + 10; };
  auto ypix = [&](double v) { return y1 - (std::clamp(v, lo, hi) - lo) / (hi - lo) * (y1 - y0); };
  for (int k = 0; k <= 10; ++k) {
    const double v = lo + (hi - lo) * k / 10.0;
    c.line(x0, ypix(v), x1, ypix(v), grey);
    const std::string label = fmt::format("{:.3f}", v);
    c.text(x0 - 10 - PngCanvas::text_width(label), static_cast<int>(ypix(v)) - 6, label, black);
  }
  for (double d : {1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001}) {
    if (d < dmin * 0.99) break;
    c.line(xpix(d), y1, xpix(d), y1 + 6, black);
    const std::string label = fmt::format("{:g}%", d * 100);
    c.text(static_cast<int>(xpix(d)) - PngCanvas::text_width(label) / 2, y1 + 12, label, black);
  }
  c.text((x0 + x1 - PngCanvas::text_width("density (weights kept), log scale")) / 2, y1 + 45,
         "density (weights kept), log scale", black);
  c.text(10, top - 24, "test accuracy", black);
  c.line(x0, y0, x0, y1, black, 2);
  c.line(x0, y1, x1, y1, black, 2);
  int legend_y = top;
  if (!std::isnan(reference)) {
    c.line(x0, ypix(reference), x1, ypix(reference), dark, 2, true);
    c.line(x1 + 15, legend_y + 6, x1 + 45, legend_y + 6, dark, 2, true);
    c.text(x1 + 52, legend_y, "dense", black);
    legend_y += 24;
  }
  for (size_t s = 0; s < order.size(); ++s) {
    const Rgb col = palette[s % 6];
    const auto& pts = series[order[s]];
    double px = NAN, py = NAN;
    for (auto it = pts.rbegin(); it != pts.rend(); ++it) {  // densest first
      const double x = xpix(it->first), y = ypix(it->second.first / it->second.second);
      c.fill_rect(static_cast<int>(x) - 4, static_cast<int>(y) - 4, static_cast<int>(x) + 5, static_cast<int>(y) + 5, col);
      if (!std::isnan(px)) c.line(px, py, x, y, col, 3);
      px = x, py = y;
    }
    c.fill_rect(x1 + 15, legend_y + 2, x1 + 45, legend_y + 11, col);
    c.text(x1 + 52, legend_y, order[s], black);
    legend_y += 24;
  }
  c.save_png(argv[2]);
  return 0;
}
