// Flags shared by every command that trains: `train`, and `prune` for lottery-ticket rounds,
// SSL and fine-tuning (data, batch sizes, SGD, StepLR, seed, epochs).
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>

#include "cli/data_flags.h"
#include "framework/optim/sgd.h"

namespace stuckat::cli {

struct TrainingFlags {
  DataFlags common;
  int epochs = 1;
  int64_t batch = 64;
  int64_t eval_batch = 1000;
  SgdOptions sgd{0.1f, 0.0f, 0.0f, 5e-4f, false};
  int step_size = 1;
  float gamma = 0.95f;
  uint64_t seed = 0;
};

// epochs_help: what --epochs means for this command.
void add_training_flags(CLI::App& cmd, TrainingFlags& f, const std::string& epochs_help = "epochs to train");
// Throws InputError naming the flag for a negative epoch count, batch < 1, step size < 1 or an
// impossible Nesterov setting.
void check_training_flags(const TrainingFlags& f);

}  // namespace stuckat::cli
