// The settings every training job shares (`train`, and `prune` for lottery-ticket rounds, SSL
// and fine-tuning): epochs, batch sizes, SGD, StepLR and the seed. Messages name the command
// line flag of each field (--epochs, --lr, ...), since that is how users set them.
#pragma once
#include <cstdint>

#include "framework/optim/sgd.h"

namespace stuckat::jobs {

struct TrainingSettings {
  int epochs = 1;
  int64_t batch = 64;
  int64_t eval_batch = 1000;
  SgdOptions sgd{0.1f, 0.0f, 0.0f, 5e-4f, false};
  int step_size = 1;     // StepLR: epochs between decays
  float gamma = 0.95f;   // StepLR: decay factor
  uint64_t seed = 0;     // initialisation and shuffling
};

// Throws InputError naming the flag for a negative epoch count, batch < 1, step size < 1 or an
// impossible Nesterov setting.
void check_training_settings(const TrainingSettings& s);

}  // namespace stuckat::jobs
