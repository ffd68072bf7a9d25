// The files of one training run directory: checkpoint.safetensors (model + metadata),
// train_state.safetensors (SGD momentum buffers, the finished epoch and the run's settings,
// for --resume) and metrics.jsonl (one JSON object per finished epoch).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/nn/module.h"
#include "framework/optim/sgd.h"

namespace stuckat::cli {

class RunFiles {
 public:
  explicit RunFiles(const std::string& dir);
  std::string checkpoint_path() const { return dir_ + "/checkpoint.safetensors"; }
  bool has_state() const;
  // Saves after a finished epoch: checkpoint, optimizer state, metrics (each via tmp + rename).
  void save(const Module& model, const Sgd& opt, const nlohmann::json& config, int epochs_done,
            const std::vector<std::string>& metrics) const;
  // Loads the last saved state; throws InputError when the saved settings differ from `config`.
  // Returns the number of finished epochs and fills `metrics` with their rows.
  int load_state(Module& model, Sgd& opt, const nlohmann::json& config, std::vector<std::string>& metrics) const;

 private:
  std::string dir_;
};

}  // namespace stuckat::cli
