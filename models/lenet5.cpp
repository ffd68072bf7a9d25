// LeNet-5 construction and forward pass.
#include "models/lenet5.h"

#include "framework/ops.h"

namespace stuckat {

LeNet5::LeNet5(uint64_t seed, bool batch_norm, int64_t in_channels, int64_t num_classes) {
  Init root{seed, ""};
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
  // identical to ReLU-then-pool, and the ReLU touches a quarter of the values.
  Tensor h = relu(max_pool2d(norm(bn1_, conv1_->forward(x)), 2, 2));  // (n, 6, 14, 14)
  h = relu(max_pool2d(norm(bn2_, conv2_->forward(h)), 2, 2));         // (n, 16, 5, 5)
  h = flatten(h, 1);                                                  // (n, 400)
  h = relu(norm(bn3_, fc1_->forward(h)));
  h = relu(norm(bn4_, fc2_->forward(h)));
  return fc3_->forward(h);
}

}  // namespace stuckat
