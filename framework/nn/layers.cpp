// Layer construction (PyTorch default init) and forward passes over framework ops.
#include "framework/nn/layers.h"

#include <cmath>

#include "base/error.h"
#include "framework/ops.h"
#include "framework/random.h"

namespace stuckat {
namespace {

// A tensor of draws from the counter-based stream keyed by (seed, name).
template <typename Draw>
Tensor random_tensor(const Shape& shape, uint64_t seed, const std::string& name, Draw draw) {
  Tensor t = Tensor::empty(shape);
  RandomStream rng(seed, stream_id(name.c_str()));
  float* p = t.data<float>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = draw(rng);
  return t;
}

Tensor uniform_tensor(const Shape& shape, float bound, uint64_t seed, const std::string& name) {
  return random_tensor(shape, seed, name, [bound](RandomStream& rng) { return rng.next_uniform(-bound, bound); });
}

Tensor normal_tensor(const Shape& shape, float std, uint64_t seed, const std::string& name) {
  return random_tensor(shape, seed, name, [std](RandomStream& rng) { return std * rng.next_normal(); });
}

}  // namespace

WeightInit parse_weight_init(const std::string& name, const std::string& flag) {
  if (name == "default") return WeightInit::Default;
  if (name == "kaiming") return WeightInit::Kaiming;
  throw_input_error("{} must be default or kaiming, got '{}'", flag, name);
}

const char* weight_init_name(WeightInit init) {
  return init == WeightInit::Kaiming ? "kaiming" : init == WeightInit::Unset ? "unset" : "default";
}

Conv2d::Conv2d(const Init& init, int64_t in, int64_t out, int64_t k, int64_t stride_, int64_t pad_, bool with_bias)
    : stride(stride_), pad(pad_) {
  if (init.scheme == WeightInit::Unset) {
    weight = register_parameter("weight", Tensor::empty({out, in, k, k}));
    if (with_bias) bias = register_parameter("bias", Tensor::empty({out}));
    return;
  }
  if (init.scheme == WeightInit::Kaiming) {
    const float std = std::sqrt(2.0f / static_cast<float>(out * k * k));
    weight = register_parameter("weight", normal_tensor({out, in, k, k}, std, init.seed, init.prefix + "weight"));
    if (with_bias) bias = register_parameter("bias", Tensor::zeros({out}));
    return;
  }
  const float bound = 1.0f / std::sqrt(static_cast<float>(in * k * k));
  weight = register_parameter("weight", uniform_tensor({out, in, k, k}, bound, init.seed, init.prefix + "weight"));
  if (with_bias) bias = register_parameter("bias", uniform_tensor({out}, bound, init.seed, init.prefix + "bias"));
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, stride, pad); }

Linear::Linear(const Init& init, int64_t in, int64_t out, bool with_bias) {
  if (init.scheme == WeightInit::Unset) {
    weight = register_parameter("weight", Tensor::empty({out, in}));
    if (with_bias) bias = register_parameter("bias", Tensor::empty({out}));
    return;
  }
  if (init.scheme == WeightInit::Kaiming) {
    weight = register_parameter("weight", normal_tensor({out, in}, 0.01f, init.seed, init.prefix + "weight"));
    if (with_bias) bias = register_parameter("bias", Tensor::zeros({out}));
    return;
  }
  const float bound = 1.0f / std::sqrt(static_cast<float>(in));
  weight = register_parameter("weight", uniform_tensor({out, in}, bound, init.seed, init.prefix + "weight"));
  if (with_bias) bias = register_parameter("bias", uniform_tensor({out}, bound, init.seed, init.prefix + "bias"));
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

BatchNorm::BatchNorm(int64_t channels, float momentum_, float eps_) : momentum(momentum_), eps(eps_) {
  weight = register_parameter("weight", Tensor::full({channels}, 1.0f));
  bias = register_parameter("bias", Tensor::zeros({channels}));
  running_mean = register_buffer("running_mean", Tensor::zeros({channels}));
  running_var = register_buffer("running_var", Tensor::full({channels}, 1.0f));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::I64));
}

Tensor BatchNorm::forward(const Tensor& x) {
  if (is_training() && num_batches_tracked.device() == Device::CPU) ++*num_batches_tracked.data<int64_t>();
  return batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
}

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, k, stride); }
Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, k, stride); }
Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(x, oh, ow); }
Tensor Flatten::forward(const Tensor& x) { return flatten(x, 1); }

Sequential& Sequential::add(std::shared_ptr<Module> m) {
  register_module(std::to_string(layers_.size()), m);
  layers_.push_back(std::move(m));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& m : layers_) h = m->forward(h);
  return h;
}

}  // namespace stuckat
