// SGD with momentum, dampening, Nesterov and weight decay (torch.optim.SGD semantics), and the
// StepLR schedule. Parameter groups are not supported: one setting for all parameters.
#pragma once
#include <string>
#include <vector>

#include "framework/optim/optimizer.h"
#include "framework/tensor.h"
#include "kernels/cpu/sgd_update.h"

namespace stuckat {

struct SgdOptions {
  float lr = 0.1f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
};

class Sgd : public Optimizer {
 public:
  // names: one per parameter, used for the state() entries "momentum.<name>" (default "<index>").
  Sgd(std::vector<Tensor> params, const SgdOptions& options, std::vector<std::string> names = {});
  void zero_grad() override;  // drops gradients (the next backward allocates fresh ones)
  void step() override;       // parameters without a gradient are skipped, as in PyTorch
  float lr() const override { return options_.lr; }
  void set_lr(float lr) override { options_.lr = lr; }
  OptimizerState state() const override;  // "momentum.<name>" for each defined buffer
  void load_state(const OptimizerState& state) override;
  const SgdOptions& options() const { return options_; }
  // Momentum buffers, in parameter order (undefined before the first step of that parameter).
  const std::vector<Tensor>& momentum_buffers() const { return momentum_; }
  // Restores a momentum buffer when resuming (shape must match parameter i).
  void set_momentum_buffer(size_t i, const Tensor& buf);

 private:
  std::vector<Tensor> params_;
  std::vector<std::string> names_;
  std::vector<Tensor> momentum_;
  SgdOptions options_;
};

// lr(epoch) = base_lr * gamma^floor(epoch / step_size), epoch counted from 0.
class StepLR {
 public:
  StepLR(Optimizer& opt, int step_size, float gamma);
  void step();  // call once at the end of each epoch
  int epoch() const { return epoch_; }

 private:
  Optimizer& opt_;
  int step_size_;
  float gamma_;
  float base_lr_;
  int epoch_ = 0;
};

}  // namespace stuckat
