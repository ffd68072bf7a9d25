// Weight histograms, their schedule and CSV rows.
#include "framework/train/weight_histogram.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "base/error.h"

namespace stuckat {

WeightHistogram weight_histogram(const float* w, int64_t n, int bins) {
  STUCKAT_CHECK(bins >= 1, "a histogram needs at least one bin, got {}", bins);
  WeightHistogram h;
  h.total = n;
  h.counts.assign(static_cast<size_t>(bins), 0);
  double lo = INFINITY, hi = -INFINITY, sum_abs = 0;
  int64_t finite = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double x = w[i];
    if (!std::isfinite(x)) {
      ++h.nonfinite;
      continue;
    }
    h.zeros += x == 0.0;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    sum_abs += std::fabs(x);
    ++finite;
  }
  if (finite == 0) return h;
  h.lo = lo;
  h.hi = hi;
  h.mean_abs = sum_abs / static_cast<double>(finite);
  const double width = hi - lo;
  for (int64_t i = 0; i < n; ++i) {
    const double x = w[i];
    if (!std::isfinite(x)) continue;
    int64_t b = width > 0 ? static_cast<int64_t>(std::floor((x - lo) / width * bins)) : 0;
    b = std::clamp<int64_t>(b, 0, bins - 1);
    ++h.counts[static_cast<size_t>(b)];
  }
  return h;
}

bool HistogramSchedule::at_epoch(int finished_epochs) const {
  return (every_epoch && finished_epochs > 0) ||
         std::find(epochs.begin(), epochs.end(), finished_epochs) != epochs.end();
}

bool HistogramSchedule::at_batch(int64_t batch_index) const {
  return every_batches > 0 && (batch_index + 1) % every_batches == 0;
}

HistogramSchedule parse_histogram_schedule(const std::string& text) {
  auto bad = [&]() {
    throw_input_error("--histograms {} is not a schedule; expected epochs=all, epochs=0,5,10 or batches=N (N >= 1)",
                      text);
  };
  HistogramSchedule s;
  const size_t eq = text.find('=');
  if (eq == std::string::npos) bad();
  const std::string key = text.substr(0, eq), value = text.substr(eq + 1);
  auto parse_int = [&](const std::string& v, long long min_value) {
    if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) bad();
    const long long x = std::atoll(v.c_str());
    if (x < min_value) bad();
    return x;
  };
  if (key == "epochs") {
    if (value == "all") {
      s.every_epoch = true;
      return s;
    }
    size_t start = 0;
    while (true) {
      const size_t comma = value.find(',', start);
      s.epochs.push_back(static_cast<int>(parse_int(value.substr(start, comma - start), 0)));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else if (key == "batches") {
    s.every_batches = parse_int(value, 1);
  } else {
    bad();
  }
  return s;
}

std::string histogram_csv_header() { return "epoch,batch,layer,bin,lo,hi,count\n"; }

std::string histogram_csv_rows(int epoch, int64_t batch, const std::string& layer, const WeightHistogram& h) {
  std::string out;
  const int bins = static_cast<int>(h.counts.size());
  const double width = (h.hi - h.lo) / bins;
  for (int b = 0; b < bins; ++b)
    out += fmt::format("{},{},{},{},{:.9g},{:.9g},{}\n", epoch, batch, layer, b, h.lo + b * width,
                       b + 1 == bins ? h.hi : h.lo + (b + 1) * width, h.counts[static_cast<size_t>(b)]);
  return out;
}

std::string histogram_summary_header() { return "epoch,batch,layer,weights,zeros,nonfinite,min,max,mean_abs\n"; }

std::string histogram_summary_row(int epoch, int64_t batch, const std::string& layer, const WeightHistogram& h) {
  return fmt::format("{},{},{},{},{},{},{:.9g},{:.9g},{:.9g}\n", epoch, batch, layer, h.total, h.zeros, h.nonfinite,
                     h.lo, h.hi, h.mean_abs);
}

}  // namespace stuckat
