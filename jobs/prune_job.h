// The `prune` job: prunes a checkpoint (one-shot, bounded one-shot, lottery ticket, structured
// sparsity) and writes DIR/checkpoint.safetensors with the prune masks, DIR/report.json, and for
// lth the rounds and rewind points; training epochs are checkpointed so a stopped run resumes.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "base/device.h"
#include "framework/data/dataset.h"
#include "jobs/training_settings.h"

namespace stuckat::jobs {

struct PruneOptions : TrainingSettings {
  PruneOptions() { epochs = 0; }  // prune: no fine-tuning unless asked
  DataOptions data;
  Device device = Device::CPU;
  std::string checkpoint, method, model, out = "runs/prune", json;
  bool seed_given = false;  // else the checkpoint's recorded run seed
  bool resume = false;
  double density = -1;  // -1: not given
  double min_fc = 0.005, min_conv = 0.012;
  double rate = 0.2;
  int rounds = -1;  // -1: not given
  int64_t rewind_iter = 0;
  float lambda_filter = 0, lambda_channel = 0;
};

struct PruneResult {
  nlohmann::json report;  // per-layer density and accuracy (DIR/report.json)
  std::string text;       // the per-layer table and a closing line, for the terminal
};

// Runs the job (see the command's help for methods and files). Throws InputError for bad
// options or files.
PruneResult run_pruning(PruneOptions options);

}  // namespace stuckat::jobs
