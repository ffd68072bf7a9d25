// Saving and resuming a training run directory.
#include "jobs/run_files.h"

#include <cstdio>
#include <filesystem>
#include <map>

#include "framework/io/atomic_file.h"
#include "framework/io/checkpoint.h"
#include "framework/io/safetensors.h"
#include "framework/io/metrics_file.h"

namespace stuckat::jobs {
namespace {

// train_state.safetensors names the model's tensors with this prefix beside the optimizer's.
constexpr const char* kModelPrefix = "run_model.";

}  // namespace

RunFiles::RunFiles(const std::string& dir) : dir_(dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw_input_error("--out {}: cannot create the directory ({})", dir_, ec.message());
}

void RunFiles::write_text(const std::string& name, const std::string& text) const {
  write_file_atomically(path(name), text);
}

bool RunFiles::has_state() const { return std::filesystem::exists(dir_ + "/train_state.safetensors"); }

nlohmann::json RunFiles::saved_config() const {
  if (!has_state()) return nullptr;
  const std::map<std::string, std::string> meta = read_checkpoint_metadata(dir_ + "/train_state.safetensors");
  const auto it = meta.find("config");
  if (it == meta.end()) return nullptr;
  nlohmann::json config = nlohmann::json::parse(it->second, nullptr, false);
  return config.is_discarded() ? nlohmann::json(nullptr) : config;
}

void RunFiles::save(const Module& model, const Optimizer& opt, const nlohmann::json& config, int epochs_done,
                    const std::vector<std::string>& metrics) const {
  std::map<std::string, std::string> meta = {{"model", config.at("model").get<std::string>()},
                                             {"data", config.at("data").get<std::string>()},
                                             {"epochs", std::to_string(epochs_done)},
                                             {"config", config.dump()}};
  for (const char* key : {"quant", "faults", "fault_mode"})
    if (config.contains(key)) meta[key] = config[key].is_string() ? config[key].get<std::string>() : config[key].dump();
  for (const auto& [k, v] : model_metadata_) meta[k] = v;
  // In this order, so that a run killed between two of the writes resumes from
  // train_state.safetensors (which holds the model's state beside the optimizer's): the metrics
  // first (load_state drops rows past the state's epoch), then the state, then the checkpoint,
  // which may lag the state by an epoch until the next save.
  std::string text;
  for (const auto& line : metrics) text += line + "\n";
  write_file_atomically(dir_ + "/metrics.jsonl", text);

  const OptimizerState state = opt.state();
  NamedTensorList run_state = state;
  for (const auto& [name, t] : model.named_state()) run_state.emplace_back(kModelPrefix + name, t);
  write_safetensors(dir_ + "/train_state.safetensors", run_state, meta);

  // Prune and fault masks are optimizer state; the checkpoint carries a copy so eval, train --init
  // and prune see them and the run's stuck bits travel with its weights.
  NamedTensorList masks;
  for (const auto& [name, t] : state)
    if (is_checkpoint_extra(name)) masks.emplace_back(name, t);
  save_checkpoint(checkpoint_path(), model, meta, masks);
}

int RunFiles::load_state(Module& model, Optimizer& opt, const nlohmann::json& config,
                         std::vector<std::string>& metrics) const {
  const std::string state_path = dir_ + "/train_state.safetensors";
  SafetensorsContent state = read_safetensors(state_path);
  auto it = state.metadata.find("config");
  if (it == state.metadata.end() || nlohmann::json::parse(it->second, nullptr, false) != config)
    throw_input_error("--resume: {} was written with other settings ({}); use a new --out or the same flags",
                      state_path, it == state.metadata.end() ? "none recorded" : it->second);
  int epochs_done = std::stoi(state.metadata.at("epochs"));
  // The model's state from this file (older runs kept it only in the checkpoint).
  NamedTensorList opt_state;
  std::map<std::string, Tensor> model_state;
  for (const auto& [name, t] : state.tensors)
    if (name.rfind(kModelPrefix, 0) == 0)
      model_state.emplace(name.substr(std::char_traits<char>::length(kModelPrefix)), t);
    else
      opt_state.emplace_back(name, t);
  if (model_state.empty()) {
    load_checkpoint(checkpoint_path(), model);
  } else {
    for (auto& [name, t] : model.named_state()) {
      const auto it = model_state.find(name);
      if (it == model_state.end() || it->second.shape() != t.shape() || it->second.dtype() != t.dtype())
        throw_input_error("--resume: {} has no {} of the model's shape and type", state_path, name);
      Tensor target = t;
      target.copy_(it->second.to(target.device()));
    }
  }
  opt.load_state(opt_state);

  // The finished epochs' rows (metrics.jsonl may hold one more: it is written first).
  metrics.clear();
  const std::string metrics_path = dir_ + "/metrics.jsonl";
  if (std::filesystem::exists(metrics_path))
    for (const MetricsRow& row : read_metrics_file(metrics_path))
      if (row.epoch <= epochs_done) metrics.push_back(row.line);
  return epochs_done;
}

}  // namespace stuckat::jobs
