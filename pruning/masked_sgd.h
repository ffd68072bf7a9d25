// MaskedSgd: SGD (momentum, Nesterov, weight decay; torch.optim.SGD semantics) for training a
// pruned f32 network: conv/linear weights with a prune mask are updated by masked_sgd_update,
// so pruned weights and their momentum stay exactly 0; every other parameter gets plain SGD.
// Parameters on the GPU (the model moved after construction; buffers follow the parameters) get
// the CUDA SGD step and the masks applied by a kernel, the same values as on the CPU.
// State: "momentum.<param>" (as Sgd, so runs resume alike) and "prune.<layer>" (U8, the
// weight's shape), the names FaultAwareSgd uses too.
#pragma once
#include <string>
#include <vector>

#include "framework/nn/module.h"
#include "framework/optim/sgd.h"
#include "pruning/prune_mask.h"

namespace stuckat {

class MaskedSgd : public Optimizer {
 public:
  // masks: one per prunable layer, in dense_masks order. Applies them to the model's weights now
  // (pruned weights become exactly 0).
  MaskedSgd(Module& model, const SgdOptions& options, const PruneMasks& masks);

  void zero_grad() override;
  void step() override;
  float lr() const override { return options_.lr; }
  void set_lr(float lr) override { options_.lr = lr; }
  OptimizerState state() const override;
  // Restores momentum buffers and masks (masks are re-applied to the weights).
  void load_state(const OptimizerState& state) override;

  const PruneMasks& masks() const { return masks_; }
  // Replaces the masks (re-applied now; buffers of newly pruned weights are zeroed).
  void set_masks(const PruneMasks& masks);
  const SgdOptions& options() const { return options_; }

 private:
  struct Param {
    std::string name;
    Tensor tensor;
    Tensor momentum;       // undefined until its first step (momentum != 0)
    int mask = -1;         // index into masks_, -1 = not a masked layer weight
  };
  Module& model_;
  SgdOptions options_;
  PruneMasks masks_;
  std::vector<Param> params_;
  std::vector<Tensor> keep_dev_;  // masks as U8 device tensors, uploaded on first use
  const Tensor& device_keep(size_t mask);
};

}  // namespace stuckat
