// The files of one training run directory: checkpoint.safetensors (model + metadata),
// train_state.safetensors (for --resume: the model's state and the optimizer's (momentum buffers,
// master weights, masks), the finished epoch and the run's settings) and metrics.jsonl (one JSON
// object per finished epoch).
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/nn/module.h"
#include "framework/optim/optimizer.h"

namespace stuckat::jobs {

class RunFiles {
 public:
  explicit RunFiles(const std::string& dir);
  std::string checkpoint_path() const { return dir_ + "/checkpoint.safetensors"; }
  bool has_state() const;
  // The settings the saved state was written with (null when there is none or it is unreadable).
  nlohmann::json saved_config() const;
  // Metadata every checkpoint of the run records (the model's name and an imported graph).
  void set_model_metadata(std::map<std::string, std::string> meta) { model_metadata_ = std::move(meta); }
  // DIR/<name>
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  // Writes DIR/<name> via tmp + rename.
  void write_text(const std::string& name, const std::string& text) const;
  // Saves after a finished epoch: metrics, train_state, then checkpoint (each via tmp + rename; a
  // kill between them leaves files that resume from train_state).
  // The checkpoint's metadata records model, data, epochs and config, plus quant, faults and
  // fault_mode when the config has them (so eval knows the weight format); master weights and
  // momentum are optimizer state and live in train_state.safetensors. Prune masks ("prune.<layer>")
  // and fault masks ("fault_and.<layer>", "fault_or.<layer>") from the optimizer state are also
  // copied into the checkpoint.
  void save(const Module& model, const Optimizer& opt, const nlohmann::json& config, int epochs_done,
            const std::vector<std::string>& metrics) const;
  // Loads the last saved state from train_state.safetensors (the model from the checkpoint for a
  // state written before it held the model); throws InputError when the saved settings differ
  // from `config`. Returns the number of finished epochs and fills `metrics` with their rows.
  // The checkpoint may be an epoch behind it (metrics.jsonl ahead): save() again rewrites both.
  int load_state(Module& model, Optimizer& opt, const nlohmann::json& config, std::vector<std::string>& metrics) const;

 private:
  std::string dir_;
  std::map<std::string, std::string> model_metadata_;
};

}  // namespace stuckat::jobs
