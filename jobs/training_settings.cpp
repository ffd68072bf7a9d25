// Checking the training settings before any data is read.
#include "jobs/training_settings.h"

#include "base/error.h"

namespace stuckat::jobs {

void check_training_settings(const TrainingSettings& s) {
  if (s.epochs < 0) throw_input_error("--epochs must be >= 0, got {}", s.epochs);
  if (s.batch < 1) throw_input_error("--batch must be >= 1, got {}", s.batch);
  if (s.eval_batch < 1) throw_input_error("--eval-batch must be >= 1, got {}", s.eval_batch);
  if (s.step_size < 1) throw_input_error("--step-size must be >= 1, got {}", s.step_size);
  if (!(s.sgd.lr >= 0)) throw_input_error("--lr must be >= 0, got {}", s.sgd.lr);
  if (!(s.sgd.momentum >= 0)) throw_input_error("--momentum must be >= 0, got {}", s.sgd.momentum);
  if (!(s.sgd.weight_decay >= 0)) throw_input_error("--weight-decay must be >= 0, got {}", s.sgd.weight_decay);
  if (s.sgd.nesterov && (s.sgd.momentum <= 0 || s.sgd.dampening != 0))
    throw_input_error("--nesterov needs --momentum > 0 and --dampening 0");
}

}  // namespace stuckat::jobs
