// The commands' dispatcher: one CLI11 app per call, so a grid can run commands one after another
// in one process.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "base/error.h"
#include "cli/commands.h"
#include "cluster/work_queue.h"
#include "cluster/world.h"

namespace stuckat::cli {

int run_command(int argc, char** argv) {
  CLI::App app{"stuckat: stuck-at faults, pruning and crossbar mapping for quantized CNNs"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show the help of every command");
  stuckat::cli::Runner run_train = stuckat::cli::add_train_command(app);
  stuckat::cli::Runner run_eval = stuckat::cli::add_eval_command(app);
  stuckat::cli::Runner run_sweep = stuckat::cli::add_sweep_command(app);
  stuckat::cli::Runner run_plot = stuckat::cli::add_plot_command(app);
  stuckat::cli::Runner run_prune = stuckat::cli::add_prune_command(app);
  stuckat::cli::Runner run_xbar = stuckat::cli::add_xbar_command(app);
  stuckat::cli::Runner run_export = stuckat::cli::add_export_command(app);
  stuckat::cli::Runner run_merge = stuckat::cli::add_merge_command(app);
  stuckat::cli::Runner run_grid = stuckat::cli::add_grid_command(app);
  stuckat::cli::Runner run_deploy = stuckat::cli::add_deploy_command(app);
  // A missing or unknown command is named, with the list, rather than CLI11's "A subcommand is
  // required".
  std::string commands;
  bool known = false;
  for (const CLI::App* sub : app.get_subcommands({})) {
    commands += (commands.empty() ? "" : ", ") + sub->get_name();
    known = known || (argc >= 2 && sub->get_name() == argv[1]);
  }
  // Under mpirun every rank reads the same words: a mistake in them is said by rank 0 alone.
  const bool speaks = cluster::world_rank() == 0;
  if (argc < 2) {
    if (speaks) std::fprintf(stderr, "stuckat: no command given; expected one of %s (see --help)\n", commands.c_str());
    return 2;
  }
  const std::string first = argv[1];
  if (!first.empty() && first[0] != '-' && !known) {
    if (speaks) std::fprintf(stderr, "stuckat: unknown command '%s'; expected one of %s (see --help)\n", first.c_str(),
                 commands.c_str());
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return speaks ? app.exit(e) : 0;  // --help, --help-all
    if (speaks) std::fprintf(stderr, "stuckat: %s (see --help)\n", e.what());
    return 2;
  }
  // Commands that do not divide their work would run N times over the same files.
  const std::string name = app.get_subcommands().empty() ? "" : app.get_subcommands().front()->get_name();
  if (cluster::world_is_distributed() && name != "sweep" && name != "train" && name != "grid") {
    if (speaks)
      std::fprintf(stderr,
                   "stuckat: %s does not divide its work over MPI ranks (sweep, train and grid do); run it without "
                   "mpirun / srun, or many of them as the runs of `stuckat grid`\n",
                   name.c_str());
    return 2;
  }
  try {
    if (app.got_subcommand("train")) return run_train();
    if (app.got_subcommand("eval")) return run_eval();
    if (app.got_subcommand("sweep")) return run_sweep();
    if (app.got_subcommand("plot")) return run_plot();
    if (app.got_subcommand("prune")) return run_prune();
    if (app.got_subcommand("xbar")) return run_xbar();
    if (app.got_subcommand("export")) return run_export();
    if (app.got_subcommand("merge")) return run_merge();
    if (app.got_subcommand("grid")) return run_grid();
    if (app.got_subcommand("deploy")) return run_deploy();
  } catch (const stuckat::InputError& e) {
    std::fprintf(stderr, "stuckat: %s\n", e.what());
    return 2;
  } catch (const stuckat::cluster::RankFailed& e) {
    return e.code;  // rank 0 says what went wrong
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stuckat: internal error: %s\n", e.what());
    return 1;
  }
  return 2;
}

int run_command(const std::vector<std::string>& args) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  return run_command(static_cast<int>(copy.size()), argv.data());
}

}  // namespace stuckat::cli
