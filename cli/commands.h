// The subcommands of bin/stuckat. Each registers its options on the CLI11 app and returns the
// function that runs it (exit code), so main.cpp stays a thin dispatcher.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace stuckat::cli {

using Runner = std::function<int()>;

Runner add_train_command(CLI::App& app);
Runner add_eval_command(CLI::App& app);
Runner add_sweep_command(CLI::App& app);
Runner add_plot_command(CLI::App& app);
Runner add_prune_command(CLI::App& app);
Runner add_xbar_command(CLI::App& app);
Runner add_export_command(CLI::App& app);
Runner add_merge_command(CLI::App& app);
Runner add_grid_command(CLI::App& app);
Runner add_deploy_command(CLI::App& app);

// Parses argv (argv[0] the program) and runs the command it names; returns the exit code (bad
// input: its sentence on stderr and 2). The vector form takes the same words, program first.
int run_command(int argc, char** argv);
int run_command(const std::vector<std::string>& args);

}  // namespace stuckat::cli
