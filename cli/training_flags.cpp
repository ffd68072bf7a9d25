// Registering and checking the training flags.
#include "cli/training_flags.h"

#include "framework/error.h"

namespace stuckat::cli {

void add_training_flags(CLI::App& cmd, TrainingFlags& f, const std::string& epochs_help) {
  add_data_flags(cmd, f.common);
  cmd.add_option("--epochs", f.epochs, epochs_help)->capture_default_str();
  cmd.add_option("--batch", f.batch, "mini-batch size")->capture_default_str();
  cmd.add_option("--eval-batch", f.eval_batch, "batch size for evaluation")->capture_default_str();
  cmd.add_option("--lr", f.sgd.lr, "learning rate")->capture_default_str();
  cmd.add_option("--momentum", f.sgd.momentum, "SGD momentum")->capture_default_str();
  cmd.add_option("--dampening", f.sgd.dampening, "SGD dampening")->capture_default_str();
  cmd.add_flag("--nesterov", f.sgd.nesterov, "Nesterov momentum");
  cmd.add_option("--weight-decay", f.sgd.weight_decay, "L2 weight decay")->capture_default_str();
  cmd.add_option("--step-size", f.step_size, "StepLR: epochs between decays")->capture_default_str();
  cmd.add_option("--gamma", f.gamma, "StepLR: decay factor")->capture_default_str();
  cmd.add_option("--seed", f.seed, "seed for initialisation and shuffling")->capture_default_str();
}

void check_training_flags(const TrainingFlags& f) {
  if (f.epochs < 0) throw_input_error("--epochs must be >= 0, got {}", f.epochs);
  if (f.batch < 1) throw_input_error("--batch must be >= 1, got {}", f.batch);
  if (f.eval_batch < 1) throw_input_error("--eval-batch must be >= 1, got {}", f.eval_batch);
  if (f.step_size < 1) throw_input_error("--step-size must be >= 1, got {}", f.step_size);
  if (!(f.sgd.lr >= 0)) throw_input_error("--lr must be >= 0, got {}", f.sgd.lr);
  if (!(f.sgd.momentum >= 0)) throw_input_error("--momentum must be >= 0, got {}", f.sgd.momentum);
  if (!(f.sgd.weight_decay >= 0)) throw_input_error("--weight-decay must be >= 0, got {}", f.sgd.weight_decay);
  if (f.sgd.nesterov && (f.sgd.momentum <= 0 || f.sgd.dampening != 0))
    throw_input_error("--nesterov needs --momentum > 0 and --dampening 0");
}

}  // namespace stuckat::cli
