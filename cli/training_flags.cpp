// Registering the training flags.
#include "cli/training_flags.h"

namespace stuckat::cli {

void add_training_flags(CLI::App& cmd, jobs::TrainingSettings& s, DataFlags& data, const std::string& epochs_help) {
  add_data_flags(cmd, data);
  cmd.add_option("--epochs", s.epochs, epochs_help)->capture_default_str();
  cmd.add_option("--batch", s.batch, "mini-batch size")->capture_default_str();
  cmd.add_option("--eval-batch", s.eval_batch, "batch size for evaluation")->capture_default_str();
  cmd.add_option("--lr", s.sgd.lr, "learning rate")->capture_default_str();
  cmd.add_option("--momentum", s.sgd.momentum, "SGD momentum")->capture_default_str();
  cmd.add_option("--dampening", s.sgd.dampening, "SGD dampening")->capture_default_str();
  cmd.add_flag("--nesterov", s.sgd.nesterov, "Nesterov momentum");
  cmd.add_option("--weight-decay", s.sgd.weight_decay, "L2 weight decay")->capture_default_str();
  cmd.add_option("--step-size", s.step_size, "StepLR: epochs between decays")->capture_default_str();
  cmd.add_option("--gamma", s.gamma, "StepLR: decay factor")->capture_default_str();
  cmd.add_option("--seed", s.seed, "seed for initialisation and shuffling")->capture_default_str();
}

}  // namespace stuckat::cli
