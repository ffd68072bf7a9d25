// The interface the training loop and the LR schedule drive, so a fault-aware optimizer
// (faults/fault_aware_sgd.h) can replace plain SGD without the trainer knowing about faults.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "framework/tensor.h"

namespace stuckat {

using OptimizerState = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void zero_grad() = 0;  // drops the parameters' gradients
  virtual void step() = 0;       // one update from the current gradients
  virtual float lr() const = 0;
  virtual void set_lr(float lr) = 0;
  // Named CPU tensors that, with the model's parameters, let a run resume exactly (momentum
  // buffers, master weights, ...); load_state accepts what state() wrote and ignores other names.
  virtual OptimizerState state() const = 0;
  virtual void load_state(const OptimizerState& state) = 0;
};

}  // namespace stuckat
