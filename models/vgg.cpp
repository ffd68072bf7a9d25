// VGG configurations and forward pass.
#include "models/vgg.h"

#include <vector>

#include "framework/nn/staged_sequence.h"
#include "framework/ops.h"

namespace stuckat {
namespace {

constexpr int kPool = 0;  // 'M' in the published configurations

std::vector<int> vgg_config(int depth) {
  switch (depth) {
    case 11: return {64, kPool, 128, kPool, 256, 256, kPool, 512, 512, kPool, 512, 512, kPool};
    case 16: return {64, 64, kPool, 128, 128, kPool, 256, 256, 256, kPool, 512, 512, 512, kPool, 512, 512, 512, kPool};
    case 19:
      return {64, 64, kPool, 128, 128, kPool, 256, 256, 256, 256, kPool,
              512, 512, 512, 512, kPool, 512, 512, 512, 512, kPool};
  }
  throw Error(fmt::format("VGG depth {} is not one of 11, 16, 19", depth));
}

}  // namespace

Vgg::Vgg(uint64_t seed, int depth, bool batch_norm, int64_t in_channels, int64_t num_classes, WeightInit init) {
  Init root{seed, "", init};
  features_ = register_module("features", std::make_shared<Sequential>());
  int64_t c = in_channels;
  for (int v : vgg_config(depth)) {
    std::string idx = std::to_string(features_->size());
    if (v == kPool) {
      features_->add(std::make_shared<MaxPool2d>(2, 2));
      continue;
    }
    features_->add(std::make_shared<Conv2d>(root.child("features." + idx), c, v, 3, 1, 1));
    if (batch_norm) features_->add(std::make_shared<BatchNorm>(v));
    features_->add(std::make_shared<ReLU>());
    c = v;
  }
  classifier_ = register_module("classifier", std::make_shared<Sequential>());
  classifier_->add(std::make_shared<Linear>(root.child("classifier.0"), 512, 512));
  classifier_->add(std::make_shared<ReLU>());
  classifier_->add(std::make_shared<Linear>(root.child("classifier.2"), 512, 256));
  classifier_->add(std::make_shared<ReLU>());
  classifier_->add(std::make_shared<Linear>(root.child("classifier.4"), 256, num_classes));
}

Tensor Vgg::forward(const Tensor& x) {
  Tensor h = features_->forward(x);  // (n, 512, 1, 1) for 32x32 inputs
  return classifier_->forward(flatten(h, 1));
}

std::vector<ForwardStage> Vgg::forward_stages() {
  std::vector<SequenceStep> steps;
  auto add_all = [&](const std::string& prefix, const Sequential& seq) {
    const auto& mods = seq.children_in_order();
    for (size_t i = 0; i < mods.size(); ++i) steps.push_back({prefix + "." + std::to_string(i), mods[i]});
  };
  add_all("features", *features_);
  steps.push_back({"", std::make_shared<Flatten>()});
  add_all("classifier", *classifier_);
  return stages_of_sequence(steps);
}

}  // namespace stuckat
