// LeNet-5 construction and forward pass.
#include "models/lenet5.h"

#include "framework/nn/staged_sequence.h"
#include "framework/ops.h"

namespace stuckat {

LeNet5::LeNet5(uint64_t seed, bool batch_norm, int64_t in_channels, int64_t num_classes, WeightInit init) {
  Init root{seed, "", init};
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(root.child("conv1"), in_channels, 6, 5, 1, 2));
  if (batch_norm) bn1_ = register_module("bn1", std::make_shared<BatchNorm>(6));
  conv2_ = register_module("conv2", std::make_shared<Conv2d>(root.child("conv2"), 6, 16, 5));
  if (batch_norm) bn2_ = register_module("bn2", std::make_shared<BatchNorm>(16));
  fc1_ = register_module("fc1", std::make_shared<Linear>(root.child("fc1"), 400, 120));
  if (batch_norm) bn3_ = register_module("bn3", std::make_shared<BatchNorm>(120));
  fc2_ = register_module("fc2", std::make_shared<Linear>(root.child("fc2"), 120, 84));
  if (batch_norm) bn4_ = register_module("bn4", std::make_shared<BatchNorm>(84));
  fc3_ = register_module("fc3", std::make_shared<Linear>(root.child("fc3"), 84, num_classes));
}

Tensor LeNet5::forward(const Tensor& x) {
  auto norm = [](const std::shared_ptr<BatchNorm>& bn, const Tensor& h) { return bn ? bn->forward(h) : h; };
  // ReLU after the pool: max and ReLU commute (ReLU is monotone), outputs and gradients are
  // identical to ReLU-then-pool, and the ReLU touches a quarter of the values; both in one pass.
  Tensor h = relu_max_pool2d(norm(bn1_, conv1_->forward(x)), 2, 2, true);  // (n, 6, 14, 14)
  h = relu_max_pool2d(norm(bn2_, conv2_->forward(h)), 2, 2, true);         // (n, 16, 5, 5)
  h = flatten(h, 1);                                                        // (n, 400)
  h = relu(norm(bn3_, fc1_->forward(h)));
  h = relu(norm(bn4_, fc2_->forward(h)));
  return fc3_->forward(h);
}

std::vector<ForwardStage> LeNet5::forward_stages() {
  // The op sequence of forward(), as modules (see staged_sequence.h).
  auto pool = std::make_shared<MaxPool2d>(2, 2);
  auto relu_step = std::make_shared<ReLU>();
  std::vector<SequenceStep> steps;
  auto add = [&](const std::string& layer, std::shared_ptr<Module> m) {
    if (m) steps.push_back({layer, std::move(m)});
  };
  add("conv1", conv1_), add("", bn1_), add("", pool), add("", relu_step);
  add("conv2", conv2_), add("", bn2_), add("", pool), add("", relu_step), add("", std::make_shared<Flatten>());
  add("fc1", fc1_), add("", bn3_), add("", relu_step);
  add("fc2", fc2_), add("", bn4_), add("", relu_step);
  add("fc3", fc3_);
  return stages_of_sequence(steps);
}

}  // namespace stuckat
