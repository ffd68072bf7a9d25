// `stuckat sweep`: the flags of the sweep job (jobs/sweep_job.h): a checkpoint evaluated under a
// grid of stuck-at faults, one CSV row per point, resumable (--resume) and splittable into shards
// (--shard i/n); prints a summary table.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/data_flags.h"
#include "jobs/sweep_job.h"

namespace stuckat::cli {
namespace {

struct SweepFlags {
  jobs::SweepOptions options;
  DataFlags common;
};

}  // namespace

Runner add_sweep_command(CLI::App& app) {
  auto f = std::make_shared<SweepFlags>();
  jobs::SweepOptions& o = f->options;
  CLI::App* cmd = app.add_subcommand("sweep", "Evaluate a checkpoint under a grid of stuck-at faults; rows to CSV");
  cmd->add_option("--checkpoint", o.checkpoint, "checkpoint.safetensors written by train")->required();
  cmd->add_option("--model", o.model, "architecture (default: recorded in the checkpoint)");
  cmd->add_option("--out", o.out, "CSV file, one row per point, appended as points finish")->required();
  cmd->add_option("--layers", o.layers, "all, or comma-separated layer names (conv1,fc1)")->capture_default_str();
  cmd->add_option("--bits", o.bits, "bit positions, 0 = LSB, 15 = MSB (e.g. 0-15 or 3,11,15)")->capture_default_str();
  cmd->add_option("--stuck", o.stuck, "stuck values (0, 1 or 0,1)")->capture_default_str();
  cmd->add_option("--rates", o.rates, "fractions of the layer's weights that are faulty (e.g. 0.01,0.05)")
      ->capture_default_str();
  cmd->add_option("--seeds", o.seeds,
                  "fault seeds (e.g. 0-4), or auto: per point, seeds until its accuracy's 95% confidence half-width is "
                  "at most --ci")
      ->capture_default_str();
  cmd->add_option("--summary", o.summary,
                  "also write per point (format, layer, bit, stuck, rate) its seeds, mean accuracy and 95% half-width "
                  "as CSV (of every row in --out)");
  cmd->add_option("--ci", o.ci, "--seeds auto: target 95% half-width of a point's mean accuracy, in accuracy points")
      ->capture_default_str();
  cmd->add_option("--min-seeds", o.min_seeds, "--seeds auto: seeds every point gets")->capture_default_str();
  cmd->add_option("--max-seeds", o.max_seeds, "--seeds auto: most seeds a point gets")->capture_default_str();
  cmd->add_option("--formats", o.formats, "16-bit weight formats (q4.11, q<I>.<F>, maxabs, signmag, fp16)")
      ->capture_default_str();
  cmd->add_flag("--resume", o.resume, "keep the rows already in --out and run only the missing points");
  cmd->add_option("--shard", o.shard, "run shard i of n (points with index % n == i)")->capture_default_str();
  cmd->add_option("--batch", o.batch, "test images per forward pass")->capture_default_str();
  cmd->add_option("--configs-per-pass", o.configs_per_pass,
                  "--device cuda: fault configurations of a layer stacked in one pass over the data (the CPU "
                  "evaluates waves of up to 256 points, test batch by test batch)")
      ->capture_default_str();
  cmd->add_option("--cache-gb", o.cache_gb,
                  "memory for the clean activations reused across points, the deepest layers' first (on the CPU: "
                  "of one test batch)")
      ->capture_default_str();
  cmd->add_option("--pass-gb", o.pass_gb,
                  "--device cuda: activation memory of one pass; fewer configurations share a pass when theirs "
                  "would exceed it")
      ->capture_default_str();
  cmd->add_option("--max-points", o.max_points, "stop after this many new points (0: no limit)")->capture_default_str();
  add_data_flags(*cmd, f->common);
  return [f] {
    jobs::SweepOptions& o = f->options;
    o.data = f->common.data;
    o.device = apply_runtime_flags(f->common);
    std::printf("%s", jobs::run_sweep_job(o).text.c_str());
    return 0;
  };
}

}  // namespace stuckat::cli
