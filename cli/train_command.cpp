// `stuckat train`: the flags of the train job (jobs/train_job.h), which builds a model, trains it
// with SGD + StepLR, evaluates after each epoch, and writes DIR/checkpoint.safetensors,
// DIR/metrics.jsonl and DIR/train_state.safetensors; prints the summary JSON on stdout.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cluster/world.h"
#include "cli/data_flags.h"
#include "cli/training_flags.h"
#include "jobs/train_job.h"

namespace stuckat::cli {
namespace {

struct TrainFlags {
  jobs::TrainOptions options;
  DataFlags common;
};

}  // namespace

Runner add_train_command(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  jobs::TrainOptions& o = f->options;
  CLI::App* cmd = app.add_subcommand("train", "Train a model and write a checkpoint and per-epoch metrics");
  CLI::Option* model_opt =
      cmd->add_option("--model", o.model, "lenet5[_bn] | vgg11[_bn] | vgg16[_bn] | vgg19[_bn] | resnet18, or FILE.onnx (its weights start the training)")
          ->capture_default_str();
  add_training_flags(*cmd, o, f->common);
  cmd->add_option("--init", o.init, "start from this checkpoint's weights and keep its prune masks (fine-tuning a "
                  "pruned network)");
  cmd->add_option("--weight-init", o.weight_init,
                  "a built-in model's initial weights: default (PyTorch's layer defaults) | kaiming (torchvision's VGG / "
                  "ResNet scheme: conv Kaiming-normal over fan-out, linear normal std 0.01, zero biases; plain VGG "
                  "needs it to learn)")
      ->capture_default_str();
  cmd->add_option("--out", o.out, "output directory")->capture_default_str();
  cmd->add_flag("--resume", o.resume, "continue from the last finished epoch in --out");
  cmd->add_option("--quant", o.quant,
                  "16-bit weight format for conv/linear weights: q4.11 (any q<I>.<F>), maxabs, signmag, fp16, none "
                  "(default none, or q4.11 with --faults)");
  cmd->add_option("--faults", o.faults,
                  "stuck-at faults during training, e.g. layer=conv2,bit=15,stuck=1,rate=0.01,seed=0 (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--fault-masks", o.fault_masks,
                  "start from these stuck bits: a safetensors file with I16 tensors fault_and.<layer> / fault_or.<layer> "
                  "(a faulty run's checkpoint, or masks measured on a chip); --faults stack on top");
  CLI::Option* fault_mode_opt =
      cmd->add_option("--fault-mode", o.fault_mode, "keep_bit | keep_weight | zero | clip | none")->capture_default_str();
  CLI::Option* clip_bound_opt = cmd->add_option("--clip-bound", o.clip_bound, "clip mode: |w| bound for faulty weights (0: the "
                                       "layer's largest fault-free magnitude)")->capture_default_str();
  cmd->add_option("--histograms", o.histograms,
                  "record per-layer weight histograms: epochs=all | epochs=0,5,10 (0 = initial) | batches=N");
  cmd->add_option("--histogram-bins", o.histogram_bins, "bins per histogram")->capture_default_str();
  return [f, model_opt, fault_mode_opt, clip_bound_opt] {
    jobs::TrainOptions& o = f->options;
    o.model_given = model_opt->count() > 0;
    o.fault_mode_given = fault_mode_opt->count() > 0;
    o.clip_bound_given = clip_bound_opt->count() > 0;
    o.data = f->common.data;
    o.device = apply_runtime_flags(f->common);
    const jobs::TrainResult r = jobs::run_training(o);
    if (r.diverged) return jobs::kDivergedExitCode;
    if (cluster::world_rank() == 0) std::printf("%s\n", r.summary.dump().c_str());  // one summary under mpirun
    return 0;
  };
}

}  // namespace stuckat::cli
