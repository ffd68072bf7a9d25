// The `train` job: builds a model (or starts from a checkpoint with its prune masks), trains it
// with SGD + StepLR (fault-aware with 16-bit words when faults are given), evaluates after each
// epoch and keeps the run directory's files current; resumable after the last finished epoch.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/device.h"
#include "framework/data/dataset.h"
#include "jobs/training_settings.h"

namespace stuckat::jobs {

struct TrainOptions : TrainingSettings {
  DataOptions data;
  Device device = Device::CPU;
  std::string model = "lenet5";
  bool model_given = false;  // the model was chosen (else --init's recorded model)
  std::string init;          // start from this checkpoint (weights and prune masks)
  std::string weight_init = "default";  // a built-in model's initialisation: default | kaiming
  std::string out = "runs/train";
  bool resume = false;
  std::string quant;  // empty: none, or q4.11 when faults are given
  std::vector<std::string> faults;
  std::string fault_masks;  // a safetensors file of fault_and./fault_or. masks
  std::string fault_mode = "keep_bit";
  bool fault_mode_given = false;  // to tell a chosen mode from the default
  float clip_bound = 0.0f;        // 0: each layer's largest fault-free magnitude
  bool clip_bound_given = false;
  std::string histograms;  // empty: none
  int histogram_bins = 64;
};

struct TrainResult {
  bool diverged = false;   // the loss became NaN or infinite (DIR/divergence.json says where)
  nlohmann::json summary;  // model, data, epochs, test_acc, test_loss, checkpoint (+ density, pruned_cells)
};

// Exit code of a run whose loss became NaN or infinite (bad input is 2, internal errors 1).
constexpr int kDivergedExitCode = 3;

// Runs the job in options.out (see the command's help for the files). Throws InputError for bad
// options or files.
TrainResult run_training(TrainOptions options);

}  // namespace stuckat::jobs
