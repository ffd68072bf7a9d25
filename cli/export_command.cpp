// `stuckat export --checkpoint C --onnx model.onnx [--faults SPEC ...]`: the flags of the export
// job (jobs/export_job.h); prints its JSON.
#include <cstdio>

#include "cli/commands.h"
#include "jobs/export_job.h"

namespace stuckat::cli {

Runner add_export_command(CLI::App& app) {
  auto o = std::make_shared<jobs::ExportOptions>();
  CLI::App* cmd = app.add_subcommand("export", "Write a checkpoint as an ONNX model (optionally with stuck-at faults baked in)");
  cmd->add_option("--checkpoint", o->checkpoint, "checkpoint.safetensors (or a model.onnx)")->required();
  cmd->add_option("--model", o->model, "architecture (default: recorded in the checkpoint)");
  cmd->add_option("--onnx", o->onnx, "the .onnx file to write")->required();
  cmd->add_option("--quant", o->quant, "16-bit weight format for --faults (default: the checkpoint's)");
  cmd->add_option("--faults", o->faults, "stuck-at faults to bake into the weights, e.g. layer=all,bit=14,stuck=1,rate=0.01");
  return [o] {
    std::printf("%s\n", jobs::run_export(*o).dump().c_str());
    return 0;
  };
}

}  // namespace stuckat::cli
