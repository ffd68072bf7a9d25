// Evaluation of one model under many weight changes that leave its first layers alone (e.g. the
// weights a faulty chip reads back after fault-aware placement, where the early layers often read
// back unchanged). The inputs of the model's forward stages (Module::forward_stages) are computed
// once for the test set with the weights the model has when this is built; each evaluation then
// starts at the first stage that reads a changed layer. Running the stages in order is the forward
// pass, so the loss and accuracy are evaluate()'s for the same weights, bit for bit.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "framework/data/dataset.h"
#include "framework/nn/module.h"
#include "framework/train/trainer.h"

namespace stuckat {

class StagedEvaluation {
 public:
  // Runs the test set once (in eval mode) and keeps, for every batch of `batch` images, the
  // inputs of stages 1, 2, ... as long as they fit in `cache_bytes` together. `model` and `data`
  // must outlive this.
  StagedEvaluation(Module& model, const Dataset& data, int64_t batch, int64_t cache_bytes);

  // The stage an evaluation with these layers changed starts at (0: from the images).
  size_t first_stage(const std::vector<std::string>& changed) const;

  // Loss and accuracy of the model's current weights, which may differ from those at
  // construction only in the `changed` layers (names as in ForwardStage::layers, e.g. "conv2").
  EpochStats evaluate(const std::vector<std::string>& changed);

  size_t stages() const { return stages_.size(); }
  size_t cached_stages() const { return cached_; }  // stages 1 .. cached_ - 1 have their inputs kept

 private:
  Module& model_;
  const Dataset& data_;
  int64_t batch_;
  std::vector<ForwardStage> stages_;
  std::vector<std::vector<Tensor>> inputs_;  // [stage][batch] for stages 1 .. cached_ - 1
  size_t cached_ = 1;
};

}  // namespace stuckat
