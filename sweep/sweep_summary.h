// The text summary of a sweep: one line per (format, layer, bit, stuck, rate) with the mean and
// standard deviation of the test accuracy over its seeds (and the 95% confidence half-width of
// the mean), under the format's clean baseline.
#pragma once
#include <string>
#include <vector>

#include "sweep/sweep_csv.h"

namespace stuckat::sweep {

struct SweepSummaryLine {
  SweepPoint point;  // seed unused; baseline for a format's clean line
  int seeds = 0;
  double acc_mean = 0, acc_std = 0;  // std: sample standard deviation (n - 1), 0 for one seed
  double acc_half_width = 0;         // of the 95% confidence interval of the mean (Student's t), 0 for one seed
  double loss_mean = 0;
  int nan = 0;                       // seeds whose loss was NaN or inf
};

// Lines in grid order (rows sorted by index first).
std::vector<SweepSummaryLine> summarize_sweep(std::vector<SweepRow> rows);
std::string sweep_summary_table(const std::vector<SweepSummaryLine>& lines);
// The lines as CSV (format,layer,bit,stuck,rate,seeds,acc_mean,acc_half_width_95,acc_std,
// loss_mean,nan), written to a temporary name and renamed; throws InputError when it cannot.
void write_sweep_summary_csv(const std::vector<SweepSummaryLine>& lines, const std::string& path);

// Student's t quantile t(0.975, df): the 95% confidence half-width is t * std / sqrt(n).
double t_quantile_975(int df);

}  // namespace stuckat::sweep
