// The subcommands of bin/stuckat. Each registers its options on the CLI11 app and returns the
// function that runs it (exit code), so main.cpp stays a thin dispatcher.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

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

}  // namespace stuckat::cli
