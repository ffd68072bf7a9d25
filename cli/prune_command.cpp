// `stuckat prune`: the flags of the prune job (jobs/prune_job.h: one-shot, bounded one-shot,
// lottery ticket, SSL; resumable); prints the per-layer density table.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/data_flags.h"
#include "cli/training_flags.h"
#include "jobs/prune_job.h"

namespace stuckat::cli {
namespace {

struct PruneFlags {
  jobs::PruneOptions options;
  DataFlags common;
};

}  // namespace

Runner add_prune_command(CLI::App& app) {
  auto f = std::make_shared<PruneFlags>();
  jobs::PruneOptions& o = f->options;
  CLI::App* cmd = app.add_subcommand("prune", "Prune a checkpoint (oneshot, oneshot-bounded, lth, ssl); writes a "
                                              "checkpoint with prune masks and a per-layer density report");
  cmd->add_option("--checkpoint", o.checkpoint, "checkpoint.safetensors to prune (lth: gives the model and seed)")
      ->required();
  cmd->add_option("--method", o.method, "oneshot | oneshot-bounded | lth | ssl")->required();
  cmd->add_option("--model", o.model, "architecture (default: recorded in the checkpoint)");
  cmd->add_option("--density", o.density, "fraction of weights kept, in (0, 1] (oneshot*: required; lth: target)");
  cmd->add_option("--min-fc", o.min_fc, "oneshot-bounded: least fraction kept of each linear layer")
      ->capture_default_str();
  cmd->add_option("--min-conv", o.min_conv, "oneshot-bounded: least fraction kept of each conv layer")
      ->capture_default_str();
  cmd->add_option("--rate", o.rate, "lth: fraction of the remaining weights pruned per round")->capture_default_str();
  cmd->add_option("--rounds", o.rounds, "lth: pruning rounds (default: until --density)");
  cmd->add_option("--rewind-iter", o.rewind_iter, "lth: rewind to the weights after K steps of round 0 (0: theta0)")
      ->capture_default_str();
  cmd->add_option("--lambda-filter", o.lambda_filter, "ssl: group-lasso weight of the filters W[n,:,:,:]")
      ->capture_default_str();
  cmd->add_option("--lambda-channel", o.lambda_channel, "ssl: group-lasso weight of the channels W[:,c,:,:]")
      ->capture_default_str();
  add_training_flags(*cmd, o, f->common, "epochs of training: lth per round, ssl with the penalty, oneshot* fine-tuning (0: none)");
  CLI::Option* seed_opt = cmd->get_option("--seed");
  cmd->add_option("--out", o.out, "output directory")->capture_default_str();
  cmd->add_option("--json", o.json, "also write the report (per-layer density and accuracy) to this JSON file");
  cmd->add_flag("--resume", o.resume, "continue the stopped run in --out (from its last finished epoch; lth: round)");
  return [f, seed_opt] {
    jobs::PruneOptions& o = f->options;
    o.seed_given = seed_opt->count() > 0;
    o.data = f->common.data;
    o.device = apply_runtime_flags(f->common);
    std::printf("%s", jobs::run_pruning(o).text.c_str());
    return 0;
  };
}

}  // namespace stuckat::cli
