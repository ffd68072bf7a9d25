// ResNet-18 for 32x32x3 inputs (the CIFAR variant): 3x3 stem conv1 (64) + bn1, four stages
// layer1..layer4 of two BasicBlocks (64/128/256/512 channels, stride 2 from layer2 on), 1x1
// conv + bn shortcuts where the shape changes (shortcut.0, shortcut.1), global average pool,
// fc (classes, 512). Convolutions have no bias (batch norm follows each).
#pragma once
#include <memory>

#include "framework/nn/layers.h"

namespace stuckat {

class BasicBlock : public Module {
 public:
  BasicBlock(const Init& init, int64_t in, int64_t out, int64_t stride);
  Tensor forward(const Tensor& x) override;

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_;
  std::shared_ptr<BatchNorm> bn1_, bn2_;
  std::shared_ptr<Sequential> shortcut_;  // null for the identity
};

class ResNet18 : public Module {
 public:
  ResNet18(uint64_t seed, int64_t in_channels = 3, int64_t num_classes = 10, WeightInit init = WeightInit::Default);
  Tensor forward(const Tensor& x) override;
  // Stem, one stage per residual block, fc: a fault sweep reuses the activations before the
  // block (or layer) it faults.
  std::vector<ForwardStage> forward_stages() override;

 private:
  std::shared_ptr<Conv2d> conv1_;
  std::shared_ptr<BatchNorm> bn1_;
  std::shared_ptr<Sequential> layers_[4];
  std::shared_ptr<Linear> fc_;
};

}  // namespace stuckat
