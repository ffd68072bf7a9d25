// `stuckat merge`: the CSVs of one sweep run in pieces (job-array shards) as one file.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "base/error.h"
#include "sweep/sweep_csv.h"
#include "sweep/sweep_merge.h"
#include "sweep/sweep_summary.h"

namespace stuckat::cli {

Runner add_merge_command(CLI::App& app) {
  struct Flags {
    std::vector<std::string> inputs;
    std::string out, summary;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "merge", "Merge the CSVs of one sweep run in shards (--shard i/n, job arrays) into one, in point order");
  cmd->add_option("inputs", f->inputs, "the sweep CSVs")->required();
  cmd->add_option("--out", f->out, "the merged CSV (written to a temporary name, then renamed)")->required();
  cmd->add_option("--summary", f->summary, "also write per point its seeds, mean accuracy and 95% half-width as CSV");
  return [f] {
    if (!f->summary.empty() && f->summary == f->out) throw_input_error("--summary must name another file than --out");
    const sweep::SweepMergeResult r = sweep::merge_sweep_csvs(f->inputs, f->out);
    if (!f->summary.empty())
      sweep::write_sweep_summary_csv(sweep::summarize_sweep(sweep::read_sweep_csv(f->out).rows), f->summary);
    std::printf("merged %lld rows from %zu files into %s: %lld of the %lld points of their grid%s\n",
                static_cast<long long>(r.rows), f->inputs.size(), f->out.c_str(), static_cast<long long>(r.rows),
                static_cast<long long>(r.grid_points), r.rows == r.grid_points ? " (complete)" : "");
    return 0;
  };
}

}  // namespace stuckat::cli
