// Line charts of sweep results drawn on a PngCanvas.
#include "sweep/sweep_plot.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "framework/io/png_canvas.h"
#include "sweep/sweep_summary.h"

namespace stuckat::sweep {
namespace {

const Rgb kPalette[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40}, {148, 103, 189},
                        {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
constexpr int kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

std::string rate_text(double r) { return fmt::format("{}", r); }

}  // namespace

SeriesStyle series_style(size_t index) {
  const size_t cycle = index / kPaletteSize;
  return {kPalette[index % kPaletteSize], cycle % 2 == 1, (cycle / 2) % 2 == 1 ? 1 : 3};
}

void write_line_chart_png(const LineChart& chart, const std::string& path) {
  const int width = 960, height = 600;
  const int left = 90, right = 220, top = 60, bottom = 80;
  const int x0 = left, x1 = width - right, y0 = top, y1 = height - bottom;  // plot area
  const Rgb black{0, 0, 0}, grey{220, 220, 220}, dark{90, 90, 90};
  PngCanvas c(width, height);
  c.text((width - PngCanvas::text_width(chart.title)) / 2, 12, chart.title, black);
  // y axis: [y_min, y_max] with ten grid lines.
  const double lo = chart.y_min, hi = chart.y_max > chart.y_min ? chart.y_max : chart.y_min + 1;
  auto ypix = [&](double v) { return y1 - (std::clamp(v, lo, hi) - lo) / (hi - lo) * (y1 - y0); };
  for (int k = 0; k <= 10; ++k) {
    const double v = lo + (hi - lo) * k / 10.0;
    c.line(x0, ypix(v), x1, ypix(v), grey);
    const std::string label = fmt::format("{:.3g}", v);
    c.text(x0 - 10 - PngCanvas::text_width(label), static_cast<int>(ypix(v)) - 6, label, black);
  }
  c.text(10, top - 24, chart.y_label, black);
  const size_t n = chart.x_ticks.size();
  auto xpix = [&](size_t i) { return n <= 1 ? (x0 + x1) / 2.0 : x0 + 20 + i * (x1 - x0 - 40.0) / (n - 1); };
  for (size_t i = 0; i < n; ++i) {
    c.line(xpix(i), y1, xpix(i), y1 + 6, black);
    c.text(static_cast<int>(xpix(i)) - PngCanvas::text_width(chart.x_ticks[i]) / 2, y1 + 12, chart.x_ticks[i], black);
  }
  c.text((x0 + x1 - PngCanvas::text_width(chart.x_label)) / 2, y1 + 45, chart.x_label, black);
  c.line(x0, y0, x0, y1, black, 2);
  c.line(x0, y1, x1, y1, black, 2);

  int legend_y = top;
  if (!std::isnan(chart.reference)) {
    c.line(x0, ypix(chart.reference), x1, ypix(chart.reference), dark, 2, true);
    c.line(x1 + 15, legend_y + 6, x1 + 45, legend_y + 6, dark, 2, true);
    c.text(x1 + 52, legend_y, chart.reference_name, black);
    legend_y += 24;
  }
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const ChartSeries& ser = chart.series[s];
    const SeriesStyle style = series_style(s);
    const Rgb col = style.colour;
    const int mark = style.thickness >= 3 ? 4 : 3;
    for (size_t i = 0; i < ser.y.size() && i < n; ++i) {
      if (std::isnan(ser.y[i])) continue;
      const double v = ser.y[i];
      c.fill_rect(static_cast<int>(xpix(i)) - mark, static_cast<int>(ypix(v)) - mark, static_cast<int>(xpix(i)) + mark + 1,
                  static_cast<int>(ypix(v)) + mark + 1, col);
      if (i + 1 < ser.y.size() && i + 1 < n && !std::isnan(ser.y[i + 1]))
        c.line(xpix(i), ypix(v), xpix(i + 1), ypix(ser.y[i + 1]), col, style.thickness, style.dashed);
    }
    c.line(x1 + 15, legend_y + 6, x1 + 45, legend_y + 6, col, style.thickness, style.dashed);
    c.fill_rect(x1 + 30 - mark, legend_y + 6 - mark, x1 + 31 + mark, legend_y + 7 + mark, col);
    c.text(x1 + 52, legend_y, ser.name, black);
    legend_y += 24;
  }
  c.save_png(path);
}

std::vector<std::string> plot_sweep(const std::vector<SweepRow>& rows, const std::string& prefix, SweepCharts which) {
  const std::vector<SweepSummaryLine> lines = summarize_sweep(rows);
  std::map<std::string, double> baseline;
  std::vector<std::string> formats, layers;
  std::set<int> bits, stucks;
  std::set<double> rates;
  // mean accuracy by (format, layer, bit, stuck, rate)
  std::map<std::tuple<std::string, std::string, int, int, double>, double> acc;
  auto add_unique = [](std::vector<std::string>& v, const std::string& s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
  };
  for (const SweepSummaryLine& l : lines) {
    const SweepPoint& p = l.point;
    add_unique(formats, p.format);
    if (p.baseline) {
      baseline[p.format] = l.acc_mean;
      continue;
    }
    add_unique(layers, p.layer);
    bits.insert(p.bit), stucks.insert(p.stuck), rates.insert(p.rate);
    acc[{p.format, p.layer, p.bit, p.stuck, p.rate}] = l.acc_mean;
  }
  auto value = [&](const std::string& f, const std::string& layer, int bit, int stuck, double rate) {
    auto it = acc.find({f, layer, bit, stuck, rate});
    return it == acc.end() ? NAN : it->second;
  };
  std::vector<std::string> files;
  for (const std::string& f : formats)
    for (int stuck : stucks) {
      auto base = baseline.find(f);
      if (bits.size() >= 2 && which != SweepCharts::Rates)
        for (double rate : rates) {
          LineChart chart;
          chart.title = fmt::format("stuck-at-{} faults, {} of the weights of one layer, {}", stuck, rate_text(rate), f);
          chart.x_label = "stuck bit position (0 = LSB, 15 = MSB)";
          chart.y_label = "test accuracy";
          chart.reference = base == baseline.end() ? NAN : base->second;
          for (int b : bits) chart.x_ticks.push_back(std::to_string(b));
          for (const std::string& layer : layers) {
            ChartSeries s{layer, {}};
            for (int b : bits) s.y.push_back(value(f, layer, b, stuck, rate));
            chart.series.push_back(s);
          }
          files.push_back(fmt::format("{}_bits_{}_sa{}_rate{}.png", prefix, f, stuck, rate_text(rate)));
          write_line_chart_png(chart, files.back());
        }
      if (rates.size() >= 2 && which != SweepCharts::Bits)
        for (int b : bits) {
          LineChart chart;
          chart.title = fmt::format("bit {} stuck at {} in one layer, {}", b, stuck, f);
          chart.x_label = "fraction of the layer's weights that are faulty";
          chart.y_label = "test accuracy";
          chart.reference = base == baseline.end() ? NAN : base->second;
          for (double r : rates) chart.x_ticks.push_back(rate_text(r));
          for (const std::string& layer : layers) {
            ChartSeries s{layer, {}};
            for (double r : rates) s.y.push_back(value(f, layer, b, stuck, r));
            chart.series.push_back(s);
          }
          files.push_back(fmt::format("{}_rates_{}_sa{}_bit{}.png", prefix, f, stuck, b));
          write_line_chart_png(chart, files.back());
        }
    }
  return files;
}

}  // namespace stuckat::sweep
