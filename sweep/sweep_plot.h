// Pictures of a sweep CSV: test accuracy vs bit position (one line per layer) and test accuracy
// vs fault rate (one line per layer), each with the format's clean baseline as a dashed line.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "framework/io/png_canvas.h"
#include "sweep/sweep_csv.h"

namespace stuckat::sweep {

// A line chart with categorical x positions (labels written under each tick) and y in
// [y_min, y_max] (values outside are drawn at the edge).
struct ChartSeries {
  std::string name;
  std::vector<double> y;  // one per x label; NaN = missing point
};
struct LineChart {
  std::string title, x_label, y_label;
  std::vector<std::string> x_ticks;
  std::vector<ChartSeries> series;
  double y_min = 0, y_max = 1;
  double reference = NAN;  // dashed horizontal line (the baseline accuracy); NaN: none
  std::string reference_name = "baseline";
};

void write_line_chart_png(const LineChart& chart, const std::string& path);

// How series `index` is drawn: ten colours, then the same colours dashed, then thin, then thin
// dashed, so up to 40 series (ResNet-18's 21 layers, VGG19's 19) stay apart in one chart.
struct SeriesStyle {
  Rgb colour;
  bool dashed = false;
  int thickness = 3;
};
SeriesStyle series_style(size_t index);

enum class SweepCharts { All, Bits, Rates };

// Writes <prefix>_bits_<format>_sa<stuck>_rate<rate>.png for every (format, stuck, rate) with at
// least two bit positions, and <prefix>_rates_<format>_sa<stuck>_bit<bit>.png for every
// (format, stuck, bit) with at least two rates (`which` picks one kind). y = mean test accuracy
// over the seeds. Returns the files written (none when the grid has a single bit and a single rate).
std::vector<std::string> plot_sweep(const std::vector<SweepRow>& rows, const std::string& prefix,
                                    SweepCharts which = SweepCharts::All);

}  // namespace stuckat::sweep
