// WeightSnapshot: a bit-exact copy of a model's state (parameters and buffers), taken at
// initialisation (theta0) or after K training iterations (theta_K), for lottery-ticket
// rewinding. Rewinding restores every tensor bit for bit and then zeroes the pruned weights,
// so each surviving weight equals its snapshot value exactly.
#pragma once
#include <map>
#include <string>

#include "framework/nn/module.h"
#include "pruning/prune_mask.h"

namespace stuckat {

class WeightSnapshot {
 public:
  WeightSnapshot() = default;
  static WeightSnapshot take(const Module& model);

  bool empty() const { return tensors_.empty(); }
  // Copies every snapshot tensor back into the model (same architecture).
  void restore(Module& model) const;
  // restore(), then pruned weights = 0.
  void rewind(Module& model, const PruneMasks& masks) const;
  // As a checkpoint (safetensors, the model's names; readable by load_checkpoint).
  void save(const std::string& path, const std::map<std::string, std::string>& metadata) const;
  const NamedTensorList& tensors() const { return tensors_; }

 private:
  NamedTensorList tensors_;  // CPU clones, in named_state order
};

}  // namespace stuckat
