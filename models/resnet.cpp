// ResNet-18 (CIFAR variant) construction and forward pass.
#include "models/resnet.h"

#include "framework/nn/staged_sequence.h"
#include "framework/ops.h"

namespace stuckat {

BasicBlock::BasicBlock(const Init& init, int64_t in, int64_t out, int64_t stride) {
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(init.child("conv1"), in, out, 3, stride, 1, false));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm>(out));
  conv2_ = register_module("conv2", std::make_shared<Conv2d>(init.child("conv2"), out, out, 3, 1, 1, false));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm>(out));
  if (stride != 1 || in != out) {
    shortcut_ = register_module("shortcut", std::make_shared<Sequential>());
    shortcut_->add(std::make_shared<Conv2d>(init.child("shortcut.0"), in, out, 1, stride, 0, false));
    shortcut_->add(std::make_shared<BatchNorm>(out));
  }
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor h = relu(bn1_->forward(conv1_->forward(x)));
  h = bn2_->forward(conv2_->forward(h));
  return relu(add(h, shortcut_ ? shortcut_->forward(x) : x));
}

ResNet18::ResNet18(uint64_t seed, int64_t in_channels, int64_t num_classes, WeightInit init) {
  Init root{seed, "", init};
  conv1_ = register_module("conv1", std::make_shared<Conv2d>(root.child("conv1"), in_channels, 64, 3, 1, 1, false));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm>(64));
  const int64_t widths[4] = {64, 128, 256, 512};
  int64_t in = 64;
  for (int stage = 0; stage < 4; ++stage) {
    std::string name = "layer" + std::to_string(stage + 1);
    layers_[stage] = register_module(name, std::make_shared<Sequential>());
    int64_t stride = stage == 0 ? 1 : 2;
    for (int b = 0; b < 2; ++b) {
      Init block = root.child(name + "." + std::to_string(b));
      layers_[stage]->add(std::make_shared<BasicBlock>(block, in, widths[stage], b == 0 ? stride : 1));
      in = widths[stage];
    }
  }
  fc_ = register_module("fc", std::make_shared<Linear>(root.child("fc"), 512, num_classes));
}

Tensor ResNet18::forward(const Tensor& x) {
  Tensor h = relu(bn1_->forward(conv1_->forward(x)));
  for (auto& stage : layers_) h = stage->forward(h);
  h = adaptive_avg_pool2d(h, 1, 1);  // (n, 512, 1, 1)
  return fc_->forward(flatten(h, 1));
}

std::vector<ForwardStage> ResNet18::forward_stages() {
  // The stem as a layer stage (conv1, then batch norm and ReLU per channel), one stage per
  // residual block (its convs, in registration order, are its layers; the block runs whole),
  // the global pooling at the end of the last block, then fc.
  std::vector<ForwardStage> stages =
      stages_of_sequence({{"conv1", conv1_}, {"", bn1_}, {"", std::make_shared<ReLU>()}});
  for (int s = 0; s < 4; ++s) {
    const auto& blocks = layers_[s]->children_in_order();
    for (size_t b = 0; b < blocks.size(); ++b) {
      ForwardStage st;
      const std::string prefix = "layer" + std::to_string(s + 1) + "." + std::to_string(b) + ".";
      for (const auto& [name, t] : blocks[b]->named_parameters())
        if (t.dim() >= 2) st.layers.push_back(prefix + name.substr(0, name.size() - std::string(".weight").size()));
      std::shared_ptr<Module> block = blocks[b];
      const bool last = s == 3 && b + 1 == blocks.size();
      st.run = [block, last](const Tensor& x) {
        Tensor h = block->forward(x);
        return last ? flatten(adaptive_avg_pool2d(h, 1, 1), 1) : h;  // (n, 512) before fc
      };
      stages.push_back(st);
    }
  }
  for (ForwardStage& st : stages_of_sequence({{"fc", fc_}})) stages.push_back(st);
  return stages;
}

}  // namespace stuckat
