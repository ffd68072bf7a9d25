// bin/stuckat: the one command-line entry point. Bad input ends with one sentence and exit 2;
// an internal error with exit 1.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "framework/error.h"

int main(int argc, char** argv) {
  CLI::App app{"stuckat: stuck-at faults, pruning and crossbar mapping for quantized CNNs"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show the help of every command");
  stuckat::cli::Runner run_train = stuckat::cli::add_train_command(app);
  stuckat::cli::Runner run_eval = stuckat::cli::add_eval_command(app);
  stuckat::cli::Runner run_sweep = stuckat::cli::add_sweep_command(app);
  stuckat::cli::Runner run_plot = stuckat::cli::add_plot_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --help-all
    std::fprintf(stderr, "stuckat: %s (see --help)\n", e.what());
    return 2;
  }
  try {
    if (app.got_subcommand("train")) return run_train();
    if (app.got_subcommand("eval")) return run_eval();
    if (app.got_subcommand("sweep")) return run_sweep();
    if (app.got_subcommand("plot")) return run_plot();
  } catch (const stuckat::InputError& e) {
    std::fprintf(stderr, "stuckat: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stuckat: internal error: %s\n", e.what());
    return 1;
  }
  return 2;
}
