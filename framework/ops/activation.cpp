// relu op and its autograd node (the mask comes from the output, so the input is not kept).
#include "kernels/cpu/relu.h"

#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/op_checks.h"
#include "kernels/cuda/relu.h"

namespace stuckat {
namespace {
using namespace ops_detail;

struct ReluBackward : Node {
  Tensor y;
  const char* name() const override { return "ReluBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::empty(y.shape(), DType::F32, y.device());
    if (y.device() == Device::CUDA) {
      cuda::relu_backward(y.data<float>(), dy.data<float>(), dx.data<float>(), y.numel());
    } else {
      cpu::relu_backward(y.data<float>(), dy.data<float>(), dx.data<float>(), y.numel());
    }
    return {dx};
  }
};

}  // namespace

Tensor relu(const Tensor& x_in) {
  require_f32("relu", "input", x_in);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  if (x.device() == Device::CUDA) {
    cuda::relu_forward(x.data<float>(), y.data<float>(), x.numel());
  } else {
    cpu::relu_forward(x.data<float>(), y.data<float>(), x.numel());
  }
  if (any_requires_grad({&x_in})) {
    auto node = std::make_shared<ReluBackward>();
    node->y = y.detach();
    connect(y, node, {&x_in});
  }
  return y;
}

}  // namespace stuckat
