// Grouping sweep rows over seeds and printing them as an aligned table.
#include "sweep/sweep_summary.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace stuckat::sweep {

std::vector<SweepSummaryLine> summarize_sweep(std::vector<SweepRow> rows) {
  std::sort(rows.begin(), rows.end(), [](const SweepRow& a, const SweepRow& b) { return a.point.index < b.point.index; });
  auto same_group = [](const SweepPoint& a, const SweepPoint& b) {
    return a.format == b.format && a.baseline == b.baseline &&
           (a.baseline || (a.layer == b.layer && a.bit == b.bit && a.stuck == b.stuck && a.rate == b.rate));
  };
  std::vector<SweepSummaryLine> lines;
  std::vector<std::vector<const SweepRow*>> members;
  for (const SweepRow& r : rows) {
    size_t k = 0;
    while (k < lines.size() && !same_group(lines[k].point, r.point)) ++k;
    if (k == lines.size()) {
      lines.push_back({r.point});
      members.emplace_back();
    }
    members[k].push_back(&r);
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

}  // namespace stuckat::sweep
