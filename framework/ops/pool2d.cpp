// Pooling ops (max, average, adaptive average) and their autograd nodes.
#include "kernels/cpu/pool2d.h"

#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/op_checks.h"
#include "kernels/cuda/pool2d.h"

namespace stuckat {
namespace {
using namespace ops_detail;

struct MaxPool2dBackward : Node {
  Tensor argmax;  // i32, one per output
  Shape x_shape;
  cpu::Pool2dShape s;
  bool relu = false;  // relu(max_pool2d(x)) as one node (CPU): argmax holds -1 where ReLU stops the gradient
  const char* name() const override { return relu ? "MaxPool2dReluBackward" : "MaxPool2dBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::empty(x_shape, DType::F32, dy.device());
    if (dy.device() == Device::CUDA) {
      cuda::max_pool2d_backward(dy.data<float>(), argmax.data<int32_t>(), dx.data<float>(), s);
    } else if (relu) {
      cpu::max_pool2d_relu_backward(dy.data<float>(), argmax.data<int32_t>(), dx.data<float>(), s);
    } else {
      cpu::max_pool2d_backward(dy.data<float>(), argmax.data<int32_t>(), dx.data<float>(), s);
    }
    return {dx};
  }
};

struct AvgPool2dBackward : Node {
  Shape x_shape;
  cpu::Pool2dShape s;
  const char* name() const override { return "AvgPool2dBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::empty(x_shape, DType::F32, dy.device());
    if (dy.device() == Device::CUDA) {
      cuda::avg_pool2d_backward(dy.data<float>(), dx.data<float>(), s);
    } else {
      cpu::avg_pool2d_backward(dy.data<float>(), dx.data<float>(), s);
    }
    return {dx};
  }
};

struct AdaptiveAvgPool2dBackward : Node {
  Shape x_shape;
  cpu::AdaptivePool2dShape s;
  const char* name() const override { return "AdaptiveAvgPool2dBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::empty(x_shape, DType::F32, dy.device());
    if (dy.device() == Device::CUDA) {
      cuda::adaptive_avg_pool2d_backward(dy.data<float>(), dx.data<float>(), s);
    } else {
      cpu::adaptive_avg_pool2d_backward(dy.data<float>(), dx.data<float>(), s);
    }
    return {dx};
  }
};

cpu::Pool2dShape pool_shape(const char* op, const Tensor& x, int64_t k, int64_t stride) {
  require_f32(op, "input", x);
  require_dim(op, "input", x, 4);
  STUCKAT_CHECK(k >= 1 && stride >= 1, "{}: kernel {} stride {}", op, k, stride);
  STUCKAT_CHECK(x.size(2) >= k && x.size(3) >= k, "{}: input {} smaller than window {}", op, shape_str(x.shape()), k);
  return cpu::Pool2dShape{x.size(0), x.size(1), x.size(2), x.size(3), k, stride};
}

}  // namespace

Tensor max_pool2d(const Tensor& x_in, int64_t k, int64_t stride) {
  cpu::Pool2dShape s = pool_shape("max_pool2d", x_in, k, stride);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({s.n, s.c, s.h_out(), s.w_out()}, DType::F32, x.device());
  // Inference keeps no argmax for a backward pass.
  Tensor argmax = any_requires_grad({&x_in}) ? Tensor::empty(y.shape(), DType::I32, x.device()) : Tensor();
  int32_t* argmax_p = argmax.defined() ? argmax.data<int32_t>() : nullptr;
  if (x.device() == Device::CUDA) {
    cuda::max_pool2d_forward(x.data<float>(), y.data<float>(), argmax_p, s);
  } else {
    cpu::max_pool2d_forward(x.data<float>(), y.data<float>(), argmax_p, s);
  }
  if (!argmax.defined()) return y;
  {
    auto node = std::make_shared<MaxPool2dBackward>();
    node->argmax = argmax;
    node->x_shape = x.shape();
    node->s = s;
    connect(y, node, {&x_in});
  }
  return y;
}

Tensor relu_max_pool2d(const Tensor& x_in, int64_t k, int64_t stride, bool pool_first) {
  const bool grad = any_requires_grad({&x_in});
  if (x_in.device() != Device::CPU || (grad && !pool_first))
    return pool_first ? relu(max_pool2d(x_in, k, stride)) : max_pool2d(relu(x_in), k, stride);
  cpu::Pool2dShape s = pool_shape("relu_max_pool2d", x_in, k, stride);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({s.n, s.c, s.h_out(), s.w_out()}, DType::F32, x.device());
  if (!grad) {
    cpu::relu_max_pool2d_forward(x.data<float>(), y.data<float>(), s, pool_first);
    return y;
  }
  // Training: one pass and one backward node instead of two of each.
  auto node = std::make_shared<MaxPool2dBackward>();
  node->argmax = Tensor::empty(y.shape(), DType::I32, x.device());
  node->x_shape = x.shape();
  node->s = s;
  node->relu = true;
  cpu::max_pool2d_relu_forward(x.data<float>(), y.data<float>(), node->argmax.data<int32_t>(), s);
  connect(y, node, {&x_in});
  return y;
}

Tensor avg_pool2d(const Tensor& x_in, int64_t k, int64_t stride) {
  cpu::Pool2dShape s = pool_shape("avg_pool2d", x_in, k, stride);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({s.n, s.c, s.h_out(), s.w_out()}, DType::F32, x.device());
  if (x.device() == Device::CUDA) {
    cuda::avg_pool2d_forward(x.data<float>(), y.data<float>(), s);
  } else {
    cpu::avg_pool2d_forward(x.data<float>(), y.data<float>(), s);
  }
  if (any_requires_grad({&x_in})) {
    auto node = std::make_shared<AvgPool2dBackward>();
    node->x_shape = x.shape();
    node->s = s;
    connect(y, node, {&x_in});
  }
  return y;
}

Tensor adaptive_avg_pool2d(const Tensor& x_in, int64_t oh, int64_t ow) {
  const char* op = "adaptive_avg_pool2d";
  require_f32(op, "input", x_in);
  require_dim(op, "input", x_in, 4);
  STUCKAT_CHECK(oh >= 1 && ow >= 1, "{}: output size {}x{}", op, oh, ow);
  Tensor x = x_in.contiguous();
  cpu::AdaptivePool2dShape s{x.size(0), x.size(1), x.size(2), x.size(3), oh, ow};
  Tensor y = Tensor::empty({s.n, s.c, oh, ow}, DType::F32, x.device());
  if (x.device() == Device::CUDA) {
    cuda::adaptive_avg_pool2d_forward(x.data<float>(), y.data<float>(), s);
  } else {
    cpu::adaptive_avg_pool2d_forward(x.data<float>(), y.data<float>(), s);
  }
  if (any_requires_grad({&x_in})) {
    auto node = std::make_shared<AdaptiveAvgPool2dBackward>();
    node->x_shape = x.shape();
    node->s = s;
    connect(y, node, {&x_in});
  }
  return y;
}

}  // namespace stuckat
