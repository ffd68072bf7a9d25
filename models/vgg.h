// VGG11/16/19 (configurations A/D/E) for 32x32x3 inputs: 3x3 convs with padding 1, optional
// batch norm, 2x2 max-pools, then a classifier 512 -> 512 -> 256 -> classes:
// features.N.* as in torchvision's numbering, classifier.0 (512,512), classifier.2 (256,512),
// classifier.4 (10,256).
#pragma once
#include <memory>

#include "framework/nn/layers.h"

namespace stuckat {

class Vgg : public Module {
 public:
  Vgg(uint64_t seed, int depth, bool batch_norm, int64_t in_channels = 3, int64_t num_classes = 10,
      WeightInit init = WeightInit::Default);
  Tensor forward(const Tensor& x) override;
  // One stage per conv/linear layer (staged_sequence.h), so fault sweeps reuse the activations
  // before the faulted layer.
  std::vector<ForwardStage> forward_stages() override;

 private:
  std::shared_ptr<Sequential> features_, classifier_;
};

}  // namespace stuckat
