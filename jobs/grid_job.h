// The `grid` job: one command (train, prune, eval, sweep, xbar, export) run once per combination
// of flag values, each run in its own directory under --runs, and under mpirun spread over the
// ranks (one run per rank at a time, handed out as ranks free up). A run that finished leaves
// DIR/grid_done.json, so running the grid again (after a kill, or with more values) runs only
// the rest; train, prune and sweep runs continue their own partial output (--resume).
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace stuckat::jobs {

struct GridOptions {
  std::string runs;                  // the directory holding one directory per run
  std::vector<std::string> vary;     // "FLAG=V1,V2,..." or "FLAG=A-B" (integers); FLAG without dashes
  std::vector<std::string> command;  // the command and its fixed flags ("prune", "--checkpoint", ...)
};

struct GridRun {
  std::string name;               // "seed=3_density=0.05"
  std::string dir;                // runs/name
  std::vector<std::string> args;  // the command's words with this run's values and outputs
};

// The runs, in order (the last --vary changing fastest). Throws InputError for a bad --vary, a
// command grid cannot run, or flags grid sets itself (--out).
std::vector<GridRun> expand_grid(const GridOptions& options);

struct GridResult {
  int runs = 0, already_done = 0, ran = 0, failed = 0;
  std::string text;  // one line per run this job ran, and a closing line
};

// Runs the grid; `run_command` runs one command's words (program name first) in this process
// and returns its exit code. Each run's stdout and stderr go to DIR/stdout.txt and stderr.txt.
GridResult run_grid(const GridOptions& options, const std::function<int(const std::vector<std::string>&)>& run_command);

}  // namespace stuckat::jobs
