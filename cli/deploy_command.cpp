// `stuckat deploy`: a checkpoint mapped onto a faulty bit-sliced chip, naive and fault-aware
// placement, the accuracy the chip gives (jobs/deploy_job.h).
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/data_flags.h"
#include "jobs/deploy_job.h"

namespace stuckat::cli {
namespace {
struct DeployFlags {
  jobs::DeployOptions options;
  DataFlags common;
};
}  // namespace

Runner add_deploy_command(CLI::App& app) {
  auto f = std::make_shared<DeployFlags>();
  jobs::DeployOptions& o = f->options;
  CLI::App* cmd = app.add_subcommand(
      "deploy", "Map a checkpoint onto a faulty bit-sliced crossbar chip (naive and fault-aware placement) and evaluate "
                "the weights the chip reads back");
  cmd->add_option("--checkpoint", o.checkpoint, "checkpoint.safetensors (pruned or dense)")->required();
  cmd->add_option("--model", o.model, "architecture (default: recorded in the checkpoint)");
  cmd->add_option("--quant", o.quant,
                  "16-bit word format (default: the checkpoint's, else q4.11); a stuck cell's damage is what its bits are "
                  "worth, so maxabs (top bits = the layer's largest weight) suits chips with many stuck cells better than "
                  "q4.11 (top bits worth 2-16, see docs/CHIP.md)");
  cmd->add_option("--size", o.size, "tile size in cells: S (S x S) or RxC")->capture_default_str();
  cmd->add_option("--rect", o.rect, "rectangular tiles RxC (wordlines x cells), overrides --size");
  cmd->add_option("--cell-bits", o.cell_bits,
                  "bits per cell: 1, 2, 4, 8 or 16 (a weight takes 16 / b cells side by side on one wordline)")
      ->capture_default_str();
  cmd->add_option("--chip", o.chip,
                  "stuck cells: rate=R,sa=A:B,seed=S (SA0:SA1 = A:B) or hrs=P,lrs=Q,seed=S. SA0 = stuck at the lowest "
                  "conductance (high-resistance state, HRS, reads 0), SA1 = stuck at the highest (low-resistance state, "
                  "LRS, reads all b bits 1); default " +
                      std::string(jobs::kDefaultChip));
  cmd->add_option("--chip-map", o.chip_map,
                  "measured cells instead of --chip: safetensors with \"cell_states\" U8 [tiles, R, C] (0 ok, 1 HRS/SA0, "
                  "2 LRS/SA1; docs/CHIP.md)");
  cmd->add_option("--chip-seeds", o.chip_seeds, "chips to draw (e.g. 0-9); overrides the seed in --chip");
  cmd->add_option("--layout", o.layouts, "layout strategies (as xbar: none, compact, spara, best, ...)")->capture_default_str();
  cmd->add_option("--placement", o.placements, "naive, fault-aware or both")->capture_default_str();
  cmd->add_option("--spare-tiles", o.spare_tiles, "spare physical tiles: a count, or a fraction of the tiles used (0.1)")
      ->capture_default_str();
  cmd->add_option("--sensitivity", o.sensitivity,
                  "fault-aware placement weighs each weight's squared error by its squared gradient, averaged over this "
                  "many training images (one at a time); 0: every weight counts the same")
      ->capture_default_str();
  cmd->add_option("--batch", o.batch, "test images per forward pass")->capture_default_str();
  cmd->add_option("--json", o.json, "write the report as JSON");
  cmd->add_option("--masks-out", o.masks_out,
                  "directory for each result's fault masks (<layout>-<placement>-chip<seed>.safetensors, as "
                  "--fault-masks reads)");
  cmd->add_option("--placement-out", o.placement_out,
                  "directory for each result's placement (JSON: per layer and tile its physical tile, wordlines and "
                  "weight columns)");
  cmd->add_option("--chip-map-out", o.chip_map_out,
                  "write the chip's cells (every tile the layouts used, spares included) in the --chip-map format");
  add_data_flags(*cmd, f->common);
  return [f] {
    jobs::DeployOptions& o = f->options;
    o.data = f->common.data;
    o.device = apply_runtime_flags(f->common);
    std::printf("%s", jobs::run_deploy(o).text.c_str());
    return 0;
  };
}

}  // namespace stuckat::cli
