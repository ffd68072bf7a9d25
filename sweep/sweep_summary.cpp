// Grouping sweep rows over seeds and printing them as an aligned table.
#include "sweep/sweep_summary.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "base/error.h"
#include "framework/io/atomic_file.h"

namespace stuckat::sweep {

std::vector<SweepSummaryLine> summarize_sweep(std::vector<SweepRow> rows) {
  std::sort(rows.begin(), rows.end(), [](const SweepRow& a, const SweepRow& b) { return a.point.index < b.point.index; });
  auto same_group = [](const SweepPoint& a, const SweepPoint& b) {
    return a.format == b.format && a.baseline == b.baseline &&
           (a.baseline || (a.layer == b.layer && a.bit == b.bit && a.stuck == b.stuck && a.rate == b.rate));
  };
  std::vector<SweepSummaryLine> lines;
  std::vector<std::vector<const SweepRow*>> members;
  // In index order a group's rows are contiguous (the seed varies fastest).
  for (const SweepRow& r : rows) {
    if (lines.empty() || !same_group(lines.back().point, r.point)) {
      lines.push_back({r.point});
      members.emplace_back();
    }
    members.back().push_back(&r);
  }
  for (size_t k = 0; k < lines.size(); ++k) {
    SweepSummaryLine& l = lines[k];
    const auto& m = members[k];
    l.seeds = static_cast<int>(m.size());
    for (const SweepRow* r : m) {
      l.acc_mean += r->test_acc / l.seeds;
      l.loss_mean += r->test_loss / l.seeds;
      l.nan += r->nan ? 1 : 0;
    }
    double ss = 0;
    for (const SweepRow* r : m) ss += (r->test_acc - l.acc_mean) * (r->test_acc - l.acc_mean);
    l.acc_std = l.seeds > 1 ? std::sqrt(ss / (l.seeds - 1)) : 0.0;
    l.acc_half_width = l.seeds > 1 ? t_quantile_975(l.seeds - 1) * l.acc_std / std::sqrt(double(l.seeds)) : 0.0;
  }
  return lines;
}

std::string sweep_summary_table(const std::vector<SweepSummaryLine>& lines) {
  std::string out = fmt::format("{:<8} {:<16} {:>3} {:>5} {:>8} {:>5} {:>9} {:>8} {:>10} {:>4}\n", "format", "layer", "bit",
                                "stuck", "rate", "seeds", "acc_mean", "acc_std", "loss_mean", "nan");
  for (const SweepSummaryLine& l : lines) {
    const SweepPoint& p = l.point;
    if (p.baseline)
      out += fmt::format("{:<8} {:<16} {:>3} {:>5} {:>8} {:>5} {:>9.4f} {:>8.4f} {:>10.4g} {:>4}\n", p.format,
                         "(baseline)", "-", "-", "0", l.seeds, l.acc_mean, l.acc_std, l.loss_mean, l.nan);
    else
      out += fmt::format("{:<8} {:<16} {:>3} {:>5} {:>8} {:>5} {:>9.4f} {:>8.4f} {:>10.4g} {:>4}\n", p.format, p.layer,
                         p.bit, p.stuck, p.rate, l.seeds, l.acc_mean, l.acc_std, l.loss_mean, l.nan);
  }
  return out;
}

double t_quantile_975(int df) {
  // Student's t, two-sided 95%: the table to 30 degrees of freedom, then z + (z^3 + z) / (4 df).
  static const double table[31] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                   2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
                                   2.074, 2.069,  2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (df < 1) return std::numeric_limits<double>::infinity();
  if (df <= 30) return table[df];
  const double z = 1.959964;
  return z + (z * z * z + z) / (4.0 * df);
}

void write_sweep_summary_csv(const std::vector<SweepSummaryLine>& lines, const std::string& path) {
  std::string text = "format,layer,bit,stuck,rate,seeds,acc_mean,acc_half_width_95,acc_std,loss_mean,nan\n";
  for (const SweepSummaryLine& l : lines) {
    const SweepPoint& p = l.point;
    const std::string head = p.baseline ? fmt::format("{},baseline,,,0", p.format)
                                        : fmt::format("{},{},{},{},{}", p.format, p.layer, p.bit, p.stuck, p.rate);
    text += fmt::format("{},{},{:.9g},{:.9g},{:.9g},{:.9g},{}\n", head, l.seeds, l.acc_mean, l.acc_half_width, l.acc_std,
                        l.loss_mean, l.nan);
  }
  write_file_atomically(path, text, "the sweep summary");
}

}  // namespace stuckat::sweep
