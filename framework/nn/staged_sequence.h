// Module::forward_stages() for a model whose forward pass is a flat sequence of modules (LeNet-5,
// VGG): one stage per conv/linear layer, holding that layer and the modules up to the next one
// (batch norm, ReLU, pooling, flatten) as its `after` part. When every module of an `after`
// part treats channels separately, the stage also gets after_channels (batch norm in eval mode
// with the selected channels' statistics), so a fault sweep can recompute only the channels a
// fault touched.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "framework/nn/module.h"

namespace stuckat {

struct SequenceStep {
  std::string layer;                // the layer's parameter prefix ("conv1", "features.3") for Conv2d/Linear
  std::shared_ptr<Module> module;   // kept alive by the stages
};

// Running the stages in order equals running the steps in order. Steps before the first layer
// form a stage of their own without a layer. Throws if a Conv2d/Linear step has no layer name.
std::vector<ForwardStage> stages_of_sequence(const std::vector<SequenceStep>& steps);

}  // namespace stuckat
