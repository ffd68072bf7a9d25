// The autograd node of a layer y = op(x, W) + b whose kernels share one backward signature
// (conv2d, linear): dx when the input needs a gradient, dW always, db when there is a bias.
#pragma once
#include <cstdint>
#include <vector>

#include "framework/autograd.h"

namespace stuckat::ops_detail {

template <typename Shape>
struct WeightedLayerBackward : Node {
  // (x, w, dy, dx or null, dw, db or null, shape): the CPU and CUDA kernels' backward.
  using Kernel = void (*)(const float*, const float*, const float*, float*, float*, float*, const Shape&);

  Tensor x, w;
  bool has_bias = false;
  int64_t bias_size = 0;  // outputs (channels or features)
  Shape s{};
  const char* label = "";
  Kernel cpu_backward = nullptr, cuda_backward = nullptr;

  const char* name() const override { return label; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    Tensor dy = dy_in.contiguous();
    const bool need_dx = next[0].fn || next[0].leaf;
    Tensor dx = need_dx ? Tensor::empty(x.shape(), DType::F32, x.device()) : Tensor();
    Tensor dw = Tensor::empty(w.shape(), DType::F32, w.device());
    Tensor db = has_bias ? Tensor::empty({bias_size}, DType::F32, w.device()) : Tensor();
    float* dxp = need_dx ? dx.data<float>() : nullptr;
    float* dbp = has_bias ? db.data<float>() : nullptr;
    const Kernel kernel = x.device() == Device::CUDA ? cuda_backward : cpu_backward;
    kernel(x.data<float>(), w.data<float>(), dy.data<float>(), dxp, dw.data<float>(), dbp, s);
    return {dx, dw, db};
  }
};

}  // namespace stuckat::ops_detail
