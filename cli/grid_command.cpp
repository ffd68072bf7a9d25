// `stuckat grid`: one command over combinations of flag values, each run in its own directory;
// under mpirun the runs are spread over the ranks.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cluster/world.h"
#include "jobs/grid_job.h"

namespace stuckat::cli {

Runner add_grid_command(CLI::App& app) {
  auto o = std::make_shared<jobs::GridOptions>();
  CLI::App* cmd = app.add_subcommand(
      "grid", "Run one command (train, prune, eval, sweep, xbar, export) for every combination of flag values, each in "
              "its own directory; resumable; spread over the ranks under mpirun. Example: stuckat grid --runs runs/lth "
              "--vary seed=0-9 --vary density=0.1,0.05 -- prune --checkpoint c.safetensors --method lth");
  cmd->add_option("--runs", o->runs, "directory that holds one directory per run (named flag=value_...)")->required();
  cmd->add_option("--vary", o->vary, "FLAG=V1,V2,... or FLAG=A-B: a flag of the command and its values (repeatable)")
      ->required();
  // Everything after the grid's own flags (and an optional --) is the command and its fixed flags.
  cmd->prefix_command();
  cmd->footer("The command and its fixed flags follow the grid's flags, after --.");
  return [o, cmd] {
    o->command = cmd->remaining();
    if (!o->command.empty() && o->command.front() == "--") o->command.erase(o->command.begin());
    const jobs::GridResult r = jobs::run_grid(*o, [](const std::vector<std::string>& words) { return run_command(words); });
    if (cluster::world_rank() != 0) return 0;
    std::printf("%s", r.text.c_str());
    return r.failed > 0 ? 1 : 0;
  };
}

}  // namespace stuckat::cli
