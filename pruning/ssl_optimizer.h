// SslOptimizer: structured sparsity learning as an optimizer decorator. Before each step of the
// wrapped optimizer it adds the group-lasso gradient (group_lasso.h) of every conv weight to
// that weight's gradient; after the step it snaps each group within lr * lambda of zero to
// exactly zero (the penalty step would carry it past zero). Groups that end training at zero
// are removed: ssl_removed_groups turns them into prune masks. Linear layers are left alone
// (a group there would be a neuron; removing an output row of the classifier removes a class).
#pragma once
#include <string>
#include <vector>

#include "framework/nn/module.h"
#include "framework/optim/optimizer.h"
#include "pruning/prune_mask.h"

namespace stuckat {

struct SslOptions {
  float lambda_filter = 0.0f;   // lambda_n
  float lambda_channel = 0.0f;  // lambda_c
};

class SslOptimizer : public Optimizer {
 public:
  // `inner` must outlive this object and update the same model's parameters.
  SslOptimizer(Module& model, Optimizer& inner, const SslOptions& options);
  void zero_grad() override { inner_.zero_grad(); }
  void step() override;
  float lr() const override { return inner_.lr(); }
  void set_lr(float lr) override { inner_.set_lr(lr); }
  OptimizerState state() const override { return inner_.state(); }
  void load_state(const OptimizerState& state) override { inner_.load_state(state); }

 private:
  std::vector<PrunableLayer> convs_;
  Optimizer& inner_;
  SslOptions options_;
};

struct RemovedGroups {
  std::string layer;
  int64_t filters = 0, zero_filters = 0;    // out channels, and those all zero
  int64_t channels = 0, zero_channels = 0;  // in channels, and those all zero
};

// For every conv layer: its all-zero filters and channels; their weights become pruned in
// `masks` (so they stay 0 in any later training).
std::vector<RemovedGroups> ssl_removed_groups(const Module& model, PruneMasks& masks);

}  // namespace stuckat
