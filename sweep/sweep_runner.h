// Runs the points of a fault sweep on a trained model and test set, fast:
//  - the activations before the stage that reads a faulted layer (Module::forward_stages) are
//    computed once and reused by every point that faults that layer, and a point recomputes only
//    what its changed weights change (sweep_delta.h);
//  - many fault configurations are evaluated per pass over the data: on the CPU a wave of up to
//    wave_points points, test batch by test batch (the clean pass on a batch, then every point of
//    the wave on it, so the batch's activations stay in cache and their memory is reused by the
//    next batch); on a model copy (GPU), passes that stack a layer's points (sweep_copy_path.h);
//  - the kernels use all threads (set_num_threads); on the CPU a wave's points run side by side.
// Every point runs in eval mode without gradients; layers that are not faulted hold their
// quantized values decode(encode(w)), so a point differs from its format's baseline only by its
// faults. A point's row depends only on the point (not on which others run with it, the shard or
// the order; through a GPU model copy up to rounding, since cuBLAS may sum a stacked pass of
// another size in another order), and rows come out in the order of `points`.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sweep/sweep_csv.h"
#include "sweep/sweep_grid.h"
#include "framework/data/dataset.h"
#include "framework/nn/module.h"

namespace stuckat::sweep {

struct SweepRunOptions {
  int64_t batch = 1000;             // test images per forward pass
  int64_t configs_per_pass = 10;    // model copy: fault configurations stacked per pass over the cached activations
  // CPU: points evaluated together batch by batch (a wave); its rows go out when it finishes. A
  // wave also ends where its points' plans (change lists, restricted next-layer weights) reach
  // chunk_bytes, and past wave_seconds / (a clean pass's time) points, at least 8, or, once a
  // wave of the format has measured its points' cost, enough points (up to 32) for the clean
  // passes to be a tenth of the wave: a killed sweep loses about a wave (LeNet-5 on 10k images:
  // all 256, ~4 s; VGG11 on 10k images, whose pass takes ~17 s: about ten passes).
  int64_t wave_points = 256;
  double wave_seconds = 60;
  // Memory for the clean activations of the stages (CleanPass; on the CPU, of one test batch):
  // the deepest stages that fit are kept; points of the others run from the deepest kept
  // activations before them.
  int64_t prefix_cache_bytes = int64_t(2) << 30;
  // A second copy of the model (same weights), normally on the GPU, or null. When set, every
  // forward pass runs on it: each point's faulted weights are drawn and decoded on its device
  // (fault_layer; the counter-based masks are the same on any device), the clean activations
  // live there, and up to configs_per_pass points of a layer share a pass, their layer outputs
  // (clean output plus the changed weights' part, or the layer recomputed; with the CPU path's
  // channel restriction, the next layer's outputs) stacked along the batch within pass_bytes of
  // activations.
  Module* device_model = nullptr;
  int64_t pass_bytes = int64_t(4) << 30;  // activation memory of one stacked pass (device_model)
  // The device path draws, reads back and plans a layer's points in chunks whose faulted weights
  // fit this many bytes (at least configs_per_pass points a chunk; sweep_copy_path.h).
  int64_t chunk_bytes = int64_t(256) << 20;
  // On the GPU a layer's points take the channel path only when the next layer does at least
  // this many multiply-adds per test batch (below, its extra launches and host work cost more
  // than it saves: LeNet-5's fc1 points, whose next layer does 0.1 G at 10k images, were planned
  // at 83 us of host time each on it, 2026-11-27; conv1's (1.5 G) and conv2's (0.3 G) stay on it).
  int64_t channel_path_min_macs = int64_t(1) << 28;
  // The device path fuses a channel-path point's ReLU / max-pool chain on the GPU only (on the
  // CPU the unfused loops are faster); tests set this to run the fused pass on a CPU copy too.
  bool fused_channel_delta_on_cpu = false;
  // Called after each group of rows that finish together (a CPU wave's, a device epoch's chunks'),
  // once they have gone to on_row: where the CLI flushes the CSV, one write per group rather than
  // per row (on the GPU a 100-point sweep takes ~10 ms, and 100 flushes 0.15-0.3 ms of it).
  std::function<void()> rows_done;
};

// Evaluates grid points `points` (indices into `grid`, ascending) on `model` (f32 weights on the
// CPU; restored to their original values before returning, as is options.device_model) over `test`
// (on the CPU, or already on the device model's device), calling on_row for each finished point
// in order. `model_name` fills the rows' model column.
void run_sweep(Module& model, const std::string& model_name, const Dataset& test, const SweepGrid& grid,
               const std::vector<int64_t>& points, const SweepRunOptions& options,
               const std::function<void(const SweepRow&)>& on_row);

}  // namespace stuckat::sweep
