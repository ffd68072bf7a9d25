// `stuckat plot sweep.csv`: PNG charts of a sweep (accuracy vs bit position per layer, accuracy
// vs fault rate per layer), written beside the CSV unless --prefix is given.
#include <cstdio>

#include "cli/commands.h"
#include "faults/sweep_csv.h"
#include "faults/sweep_plot.h"
#include "framework/error.h"

namespace stuckat::cli {
namespace {

struct PlotFlags {
  std::string csv;
  std::string prefix;  // empty: the CSV path without ".csv"
};

int run(PlotFlags& f) {
  std::string prefix = f.prefix;
  if (prefix.empty()) {
    prefix = f.csv;
    if (prefix.size() > 4 && prefix.compare(prefix.size() - 4, 4, ".csv") == 0) prefix.resize(prefix.size() - 4);
  }
  const SweepCsvContents contents = read_sweep_csv(f.csv);
  if (contents.rows.empty()) throw_input_error("{} has no sweep rows to plot", f.csv);
  const std::vector<std::string> files = plot_sweep(contents.rows, prefix);
  if (files.empty())
    std::printf("nothing to plot: the sweep in %s has a single bit position and a single rate\n", f.csv.c_str());
  for (const std::string& file : files) std::printf("%s\n", file.c_str());
  return 0;
}

}  // namespace

Runner add_plot_command(CLI::App& app) {
  auto f = std::make_shared<PlotFlags>();
  CLI::App* cmd = app.add_subcommand("plot", "Draw PNG charts of a sweep CSV (accuracy vs bit and vs rate per layer)");
  cmd->add_option("csv", f->csv, "sweep CSV written by `stuckat sweep`")->required();
  cmd->add_option("--prefix", f->prefix, "output path prefix (default: the CSV path without .csv)");
  return [f] { return run(*f); };
}

}  // namespace stuckat::cli
