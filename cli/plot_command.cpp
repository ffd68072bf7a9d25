// `stuckat plot sweep.csv`: PNG charts of a sweep (accuracy vs bit position per layer, accuracy
// vs fault rate per layer), written beside the CSV unless --prefix is given.
// `stuckat plot a/metrics.jsonl b/metrics.jsonl --key train_loss --out loss.png`: one curve per
// training run (x = epoch), e.g. to compare fault modes.
#include <cmath>
#include <cstdio>
#include <limits>

#include "cli/commands.h"
#include "framework/io/metrics_file.h"
#include "sweep/sweep_csv.h"
#include "sweep/sweep_plot.h"
#include "base/error.h"

namespace stuckat::cli {
using namespace stuckat::sweep;  // the sweep CSV reader and its charts
namespace {

struct PlotFlags {
  std::vector<std::string> files;
  std::string prefix;  // sweep: empty = the CSV path without ".csv"
  std::string key = "train_loss";
  std::vector<std::string> names;  // curves: legend entries (default: the files' folder names)
  std::string out;                 // curves: the PNG
  std::string title;
  std::string charts = "all";  // sweep: all | bits | rates
  // The flags given on the command line, so that one meant for the other kind of plot is refused.
  std::vector<std::string> sweep_flags_given, curve_flags_given;
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int plot_sweep_csv(const PlotFlags& f) {
  if (f.files.size() != 1) throw_input_error("plot: give one sweep CSV at a time ({} given)", f.files.size());
  if (!f.curve_flags_given.empty())
    throw_input_error("plot: {} is for metrics.jsonl curves; a sweep CSV's charts go to --prefix (default: the CSV path "
                      "without .csv)",
                      f.curve_flags_given.front());
  const std::string& csv = f.files[0];
  std::string prefix = f.prefix;
  if (prefix.empty()) {
    prefix = csv;
    if (ends_with(prefix, ".csv")) prefix.resize(prefix.size() - 4);
  }
  const SweepCsvContents contents = read_sweep_csv(csv);
  if (contents.rows.empty()) throw_input_error("{} has no sweep rows to plot", csv);
  const SweepCharts which = f.charts == "bits" ? SweepCharts::Bits : f.charts == "rates" ? SweepCharts::Rates : SweepCharts::All;
  const std::vector<std::string> files = plot_sweep(contents.rows, prefix, which);
  if (files.empty())
    std::printf("nothing to plot: the sweep in %s has a single bit position and a single rate\n", csv.c_str());
  for (const std::string& file : files) std::printf("%s\n", file.c_str());
  return 0;
}

std::string run_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return path;
  const size_t before = path.find_last_of('/', slash - 1);
  return path.substr(before == std::string::npos ? 0 : before + 1, slash - (before == std::string::npos ? 0 : before + 1));
}

int plot_curves(const PlotFlags& f) {
  if (f.out.empty()) throw_input_error("plot: --out F.png is needed to plot metrics.jsonl curves");
  if (!f.sweep_flags_given.empty())
    throw_input_error("plot: {} is for a sweep CSV, not metrics.jsonl curves", f.sweep_flags_given.front());
  if (!f.names.empty() && f.names.size() != f.files.size())
    throw_input_error("plot: --names has {} entries for {} files", f.names.size(), f.files.size());
  LineChart chart;
  chart.title = f.title.empty() ? f.key + " per epoch" : f.title;
  chart.x_label = "epoch";
  chart.y_label = f.key;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  size_t epochs = 0;
  for (size_t i = 0; i < f.files.size(); ++i) {
    ChartSeries s;
    s.name = f.names.empty() ? run_name(f.files[i]) : f.names[i];
    s.y = metrics_curve(read_metrics_file(f.files[i]), f.key, f.files[i]);
    for (double v : s.y)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
    epochs = std::max(epochs, s.y.size());
    chart.series.push_back(s);
  }
  if (!(lo <= hi)) throw_input_error("plot: no run has a finite \"{}\" value", f.key);
  for (size_t e = 1; e <= epochs; ++e) chart.x_ticks.push_back(std::to_string(e));
  const double pad = hi > lo ? 0.05 * (hi - lo) : 0.5;
  chart.y_min = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
  chart.y_max = hi + pad;
  write_line_chart_png(chart, f.out);
  std::printf("%s\n", f.out.c_str());
  return 0;
}

int run(const PlotFlags& f) {
  size_t jsonl = 0;
  for (const std::string& file : f.files) jsonl += ends_with(file, ".jsonl");
  if (jsonl == 0) return plot_sweep_csv(f);
  if (jsonl != f.files.size()) throw_input_error("plot: give either one sweep CSV or metrics.jsonl files, not both");
  return plot_curves(f);
}

}  // namespace

Runner add_plot_command(CLI::App& app) {
  auto f = std::make_shared<PlotFlags>();
  CLI::App* cmd = app.add_subcommand(
      "plot", "Draw PNG charts: a sweep CSV (accuracy vs bit and vs rate per layer), or metrics.jsonl curves per epoch");
  cmd->add_option("files", f->files, "a sweep CSV written by `stuckat sweep`, or metrics.jsonl files of training runs")
      ->required();
  CLI::Option* prefix =
      cmd->add_option("--prefix", f->prefix, "sweep: output path prefix (default: the CSV path without .csv)");
  CLI::Option* charts =
      cmd->add_option("--charts", f->charts, "sweep: all | bits (accuracy vs bit) | rates (accuracy vs rate)")
          ->check(CLI::IsMember({"all", "bits", "rates"}))
          ->capture_default_str();
  CLI::Option* key =
      cmd->add_option("--key", f->key, "curves: the metrics field to draw (train_loss, test_acc, test_loss, ...)")
          ->capture_default_str();
  CLI::Option* names =
      cmd->add_option("--names", f->names, "curves: legend names, one per file (default: each file's folder)")
          ->delimiter(',');
  CLI::Option* out = cmd->add_option("--out", f->out, "curves: the PNG to write");
  CLI::Option* title = cmd->add_option("--title", f->title, "curves: chart title");
  return [=] {
    for (CLI::Option* o : {prefix, charts})
      if (o->count() > 0) f->sweep_flags_given.push_back(o->get_name());
    for (CLI::Option* o : {out, key, names, title})
      if (o->count() > 0) f->curve_flags_given.push_back(o->get_name());
    return run(*f);
  };
}

}  // namespace stuckat::cli
