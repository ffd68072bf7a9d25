// Layers with PyTorch's parameter names and initialisation. WeightInit::Default is PyTorch's
// default: weights Kaiming-uniform with a = sqrt(5) (bound 1/sqrt(fan_in)), biases uniform in
// +-1/sqrt(fan_in). WeightInit::Kaiming is torchvision's VGG / ResNet scheme: conv weights
// Kaiming-normal for ReLU over fan-out (std sqrt(2 / (out * k * k))), linear weights normal with
// std 0.01, biases zero; without it a plain (no batch norm) VGG loses its signal over ten layers
// and does not learn. Initial values come from a counter-based stream keyed by (seed, parameter
// name), so they do not depend on construction order. WeightInit::Unset draws nothing and leaves
// conv and linear parameters uninitialised: for a model that a checkpoint fills in right away
// (load_checkpoint refuses a file that lacks any of the model's tensors), it skips the draws.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "framework/nn/module.h"

namespace stuckat {

enum class WeightInit { Default, Kaiming, Unset };

// "default" | "kaiming" -> WeightInit; throws InputError naming `flag` and the valid names.
WeightInit parse_weight_init(const std::string& name, const std::string& flag);
const char* weight_init_name(WeightInit init);

// Initialisation source handed to layer constructors: the seed plus the layer's full name.
struct Init {
  uint64_t seed = 0;
  std::string prefix;  // e.g. "features.0."
  WeightInit scheme = WeightInit::Default;
  Init child(const std::string& name) const { return Init{seed, prefix + name + ".", scheme}; }
};

class Conv2d : public Module {
 public:
  Conv2d(const Init& init, int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t pad = 0, bool bias = true);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;  // (out, in, k, k), (out) or undefined
  int64_t stride, pad;
};

class Linear : public Module {
 public:
  Linear(const Init& init, int64_t in, int64_t out, bool bias = true);
  Tensor forward(const Tensor& x) override;
  Tensor weight, bias;  // (out, in), (out)
};

// BatchNorm over channels of (n, c, h, w) or features of (n, c): weight=1, bias=0,
// running_mean=0, running_var=1, num_batches_tracked (i64, for PyTorch compatibility).
class BatchNorm : public Module {
 public:
  explicit BatchNorm(int64_t channels, float momentum = 0.1f, float eps = 1e-5f);
  Tensor forward(const Tensor& x) override;
  bool normalises_over_batch() const override { return true; }
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  float momentum, eps;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

class MaxPool2d : public Module {
 public:
  MaxPool2d(int64_t k, int64_t stride) : k(k), stride(stride) {}
  Tensor forward(const Tensor& x) override;
  int64_t k, stride;
};

class AvgPool2d : public Module {
 public:
  AvgPool2d(int64_t k, int64_t stride) : k(k), stride(stride) {}
  Tensor forward(const Tensor& x) override;
  int64_t k, stride;
};

class AdaptiveAvgPool2d : public Module {
 public:
  AdaptiveAvgPool2d(int64_t oh, int64_t ow) : oh(oh), ow(ow) {}
  Tensor forward(const Tensor& x) override;
  int64_t oh, ow;
};

class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override;
};

// Children named "0", "1", ... like torch.nn.Sequential.
class Sequential : public Module {
 public:
  Sequential& add(std::shared_ptr<Module> m);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return layers_.size(); }
  const std::vector<std::shared_ptr<Module>>& children_in_order() const { return layers_; }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace stuckat
