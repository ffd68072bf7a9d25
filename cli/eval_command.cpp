// `stuckat eval`: the flags of the eval job (jobs/eval_job.h): a checkpoint evaluated on the test
// set, optionally quantised with stuck-at faults injected; prints one JSON object.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/data_flags.h"
#include "jobs/eval_job.h"

namespace stuckat::cli {
namespace {

struct EvalFlags {
  jobs::EvalOptions options;
  DataFlags common;
};

}  // namespace

Runner add_eval_command(CLI::App& app) {
  auto f = std::make_shared<EvalFlags>();
  jobs::EvalOptions& o = f->options;
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a checkpoint on a test set; prints JSON");
  cmd->add_option("--checkpoint", o.checkpoint, "checkpoint.safetensors written by train, or a model.onnx")->required();
  cmd->add_option("--model", o.model, "architecture (default: recorded in the checkpoint)");
  add_data_flags(*cmd, f->common);
  cmd->add_option("--batch", o.batch, "batch size")->capture_default_str();
  cmd->add_option("--save-logits", o.save_logits,
                  "write the model's outputs on the test images to this .npy (float32, images x classes, test-set order)");
  cmd->add_option("--quant", o.quant, "16-bit weight format (default: the one the checkpoint records)");
  cmd->add_option("--faults", o.faults, "stuck-at faults to inject, e.g. layer=conv2,bit=15,stuck=1,rate=0.01 "
                  "(repeatable)")->allow_extra_args(false);
  cmd->add_option("--fault-masks", o.fault_masks,
                  "inject these stuck bits: a safetensors file with I16 tensors fault_and.<layer> / fault_or.<layer> (a "
                  "faulty run's checkpoint, or masks measured on a chip); --faults stack on top");
  return [f] {
    jobs::EvalOptions& o = f->options;
    o.data = f->common.data;
    o.device = apply_runtime_flags(f->common);
    std::printf("%s\n", jobs::run_evaluation(o).dump().c_str());
    return 0;
  };
}

}  // namespace stuckat::cli
