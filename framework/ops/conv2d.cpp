// conv2d op: shape checks, device dispatch and its autograd node.
#include "kernels/cpu/conv2d.h"

#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/op_checks.h"
#include "framework/ops/weighted_layer_backward.h"
#include "kernels/cuda/conv2d.h"

namespace stuckat {
using namespace ops_detail;

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, int64_t stride, int64_t pad) {
  const char* op = "conv2d";
  require_f32(op, "input", x_in);
  require_f32(op, "weight", w_in);
  require_dim(op, "input", x_in, 4);
  require_dim(op, "weight", w_in, 4);
  require_same_device(op, x_in, w_in);
  require_same_device(op, x_in, b_in);
  const cpu::Conv2dShape s = conv_shape(op, x_in, w_in.shape(), stride, pad);
  Tensor x = x_in.contiguous(), w = w_in.contiguous(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  if (b.defined()) STUCKAT_CHECK(b.numel() == w.size(0), "conv2d: bias has {} values for {} filters", b.numel(), w.size(0));
  Tensor y = Tensor::empty({s.n, s.c_out, s.h_out(), s.w_out()}, DType::F32, x.device());
  const float* bp = b.defined() ? b.data<float>() : nullptr;
  if (x.device() == Device::CUDA) {
    cuda::conv2d_forward(x.data<float>(), w.data<float>(), bp, y.data<float>(), s);
  } else {
    cpu::conv2d_forward(x.data<float>(), w.data<float>(), bp, y.data<float>(), s);
  }
  if (any_requires_grad({&x_in, &w_in, &b_in})) {
    auto node = std::make_shared<WeightedLayerBackward<cpu::Conv2dShape>>();
    node->label = "Conv2dBackward";
    node->cpu_backward = cpu::conv2d_backward;
    node->cuda_backward = cuda::conv2d_backward;
    node->x = x.detach();
    node->w = w.detach();
    node->has_bias = b.defined();
    node->bias_size = s.c_out;
    node->s = s;
    connect(y, node, {&x_in, &w_in, &b_in});
  }
  return y;
}

void conv2d_add_into(Tensor& out, const Tensor& x_in, const Tensor& w_in, const Tensor& addend, int64_t stride,
                     int64_t pad) {
  const char* op = "conv2d_add_into";
  require_f32(op, "out", out);
  require_f32(op, "addend", addend);
  require_same_device(op, out, x_in);
  require_same_device(op, out, addend);
  STUCKAT_CHECK(!any_requires_grad({&x_in, &w_in}), "conv2d_add_into has no gradient");
  require_f32(op, "input", x_in);
  require_f32(op, "weight", w_in);
  require_dim(op, "input", x_in, 4);
  require_dim(op, "weight", w_in, 4);
  require_same_device(op, x_in, w_in);
  const cpu::Conv2dShape s = conv_shape(op, x_in, w_in.shape(), stride, pad);
  Tensor x = x_in.contiguous(), w = w_in.contiguous(), a = addend.contiguous();
  const Shape y_shape{s.n, s.c_out, s.h_out(), s.w_out()};
  STUCKAT_CHECK(out.shape() == y_shape && a.shape() == y_shape && out.is_contiguous(),
                "conv2d_add_into: out {} and addend {} must be {}", shape_str(out.shape()), shape_str(a.shape()),
                shape_str(y_shape));
  STUCKAT_CHECK(out.raw_data() != x.raw_data() && out.raw_data() != w.raw_data(),
                "conv2d_add_into: out must not share memory with the input or the weights");
  if (out.device() == Device::CPU && out.raw_data() == a.raw_data()) {  // the kernel overwrites out first
    add_into(out, a, conv2d(x, w, Tensor(), stride, pad));
    return;
  }
  if (out.device() == Device::CPU) {
    cpu::conv2d_forward(x.data<float>(), w.data<float>(), nullptr, out.data<float>(), s, a.data<float>());
    return;
  }
  cuda::conv2d_forward(x.data<float>(), w.data<float>(), nullptr, out.data<float>(), s, a.data<float>());
}

}  // namespace stuckat
