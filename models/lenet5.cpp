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

std::vector<ForwardStage> LeNet5::forward_stages() {
  // The same op sequence as forward(), cut before each conv/linear layer so that every stage
  // begins with its layer (see ForwardStage::after). Every op after a layer acts per channel, so
  // each stage also runs on a subset of its channels (batch norm with those channels' statistics).
  using Channels = std::vector<int64_t>;
  auto norm = [](const std::shared_ptr<BatchNorm>& bn, const Tensor& h) { return bn ? bn->forward(h) : h; };
  auto norm_channels = [](const std::shared_ptr<BatchNorm>& bn, const Tensor& h, const Channels& c) {
    if (!bn) return h;
    Tensor mean = select_index(bn->running_mean, 0, c), var = select_index(bn->running_var, 0, c);
    return batch_norm(h, select_index(bn->weight, 0, c), select_index(bn->bias, 0, c), mean, var, false, bn->momentum,
                      bn->eps);
  };
  std::vector<ForwardStage> stages(5);
  stages[0].after = [this, norm](const Tensor& y) { return relu(max_pool2d(norm(bn1_, y), 2, 2)); };  // (n,6,14,14)
  stages[0].after_channels = [this, norm_channels](const Tensor& y, const Channels& c) {
    return relu(max_pool2d(norm_channels(bn1_, y, c), 2, 2));
  };
  stages[1].after = [this, norm](const Tensor& y) { return flatten(relu(max_pool2d(norm(bn2_, y), 2, 2)), 1); };  // (n,400)
  stages[1].after_channels = [this, norm_channels](const Tensor& y, const Channels& c) {
    return flatten(relu(max_pool2d(norm_channels(bn2_, y, c), 2, 2)), 1);
  };
  stages[2].after = [this, norm](const Tensor& y) { return relu(norm(bn3_, y)); };  // (n,120)
  stages[2].after_channels = [this, norm_channels](const Tensor& y, const Channels& c) {
    return relu(norm_channels(bn3_, y, c));
  };
  stages[3].after = [this, norm](const Tensor& y) { return relu(norm(bn4_, y)); };  // (n,84)
  stages[3].after_channels = [this, norm_channels](const Tensor& y, const Channels& c) {
    return relu(norm_channels(bn4_, y, c));
  };
  stages[4].after = [](const Tensor& y) { return y; };  // (n,10) logits
  stages[4].after_channels = [](const Tensor& y, const Channels&) { return y; };
  const std::pair<const char*, Module*> layers[] = {
      {"conv1", conv1_.get()}, {"conv2", conv2_.get()}, {"fc1", fc1_.get()}, {"fc2", fc2_.get()}, {"fc3", fc3_.get()}};
  for (size_t k = 0; k < stages.size(); ++k) {
    ForwardStage& s = stages[k];
    s.layers = {layers[k].first};
    s.layer = layers[k].second;
    s.run = [layer = s.layer, after = s.after](const Tensor& x) { return after(layer->forward(x)); };
  }
  return stages;
}

}  // namespace stuckat
