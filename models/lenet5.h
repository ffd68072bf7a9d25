// LeNet-5 for 28x28x1 inputs: conv1 (6,1,5,5) pad 2, conv2 (16,6,5,5), fc1 (120,400),
// fc2 (84,120), fc3 (10,84); ReLU and 2x2 max-pool after each conv. With batch norm, bn1/bn2
// follow conv1/conv2 and bn3/bn4 follow fc1/fc2 (before the ReLU). 61,706 parameters without.
#pragma once
#include <memory>

#include "framework/nn/layers.h"

namespace stuckat {

class LeNet5 : public Module {
 public:
  LeNet5(uint64_t seed, bool batch_norm, int64_t in_channels = 1, int64_t num_classes = 10,
         WeightInit init = WeightInit::Default);
  Tensor forward(const Tensor& x) override;
  // Five stages, each beginning with its conv/linear layer: conv1 block (n,1,28,28)->(n,6,14,14),
  // conv2 block and flatten ->(n,400), fc1 ->(n,120), fc2 ->(n,84), fc3 ->(n,10) logits.
  std::vector<ForwardStage> forward_stages() override;

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_;
  std::shared_ptr<Linear> fc1_, fc2_, fc3_;
  std::shared_ptr<BatchNorm> bn1_, bn2_, bn3_, bn4_;
};

}  // namespace stuckat
