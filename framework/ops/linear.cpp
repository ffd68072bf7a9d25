// linear op (y = x W^T + b): checks, dispatch and autograd node.
#include "kernels/cpu/linear.h"

#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/op_checks.h"
#include "framework/ops/weighted_layer_backward.h"
#include "kernels/cuda/linear.h"

namespace stuckat {
using namespace ops_detail;

Tensor linear(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in) {
  const char* op = "linear";
  require_f32(op, "input", x_in);
  require_f32(op, "weight", w_in);
  require_dim(op, "input", x_in, 2);
  require_dim(op, "weight", w_in, 2);
  require_same_device(op, x_in, w_in);
  require_same_device(op, x_in, b_in);
  STUCKAT_CHECK(x_in.size(1) == w_in.size(1), "linear: input {} has {} features, weight {} expects {}",
                shape_str(x_in.shape()), x_in.size(1), shape_str(w_in.shape()), w_in.size(1));
  Tensor x = x_in.contiguous(), w = w_in.contiguous(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  if (b.defined()) STUCKAT_CHECK(b.numel() == w.size(0), "linear: bias has {} values for {} outputs", b.numel(), w.size(0));
  cpu::LinearShape s{x.size(0), x.size(1), w.size(0)};
  Tensor y = Tensor::empty({s.n, s.out}, DType::F32, x.device());
  const float* bp = b.defined() ? b.data<float>() : nullptr;
  if (x.device() == Device::CUDA) {
    cuda::linear_forward(x.data<float>(), w.data<float>(), bp, y.data<float>(), s);
  } else {
    cpu::linear_forward(x.data<float>(), w.data<float>(), bp, y.data<float>(), s);
  }
  if (any_requires_grad({&x_in, &w_in, &b_in})) {
    auto node = std::make_shared<WeightedLayerBackward<cpu::LinearShape>>();
    node->label = "LinearBackward";
    node->cpu_backward = cpu::linear_backward;
    node->cuda_backward = cuda::linear_backward;
    node->x = x.detach();
    node->w = w.detach();
    node->has_bias = b.defined();
    node->bias_size = s.out;
    node->s = s;
    connect(y, node, {&x_in, &w_in, &b_in});
  }
  return y;
}

}  // namespace stuckat
