// conv2d_multi / linear_multi: one input through P weight sets, output blocks stacked along the
// batch (ops.h). Each block is the ordinary layer kernel (CPU or CUDA) writing at its offset, so
// block p holds exactly what conv2d/linear with w[p] gives. No gradient: sweeps evaluate.
#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/op_checks.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/linear.h"
#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/linear.h"

namespace stuckat {
using namespace ops_detail;

Tensor conv2d_multi(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, int64_t stride, int64_t pad) {
  const char* op = "conv2d_multi";
  require_f32(op, "input", x_in);
  require_f32(op, "weights", w_in);
  require_dim(op, "input", x_in, 4);
  require_dim(op, "weights", w_in, 5);
  require_same_device(op, x_in, w_in);
  require_same_device(op, x_in, b_in);
  STUCKAT_CHECK(!any_requires_grad({&x_in, &w_in, &b_in}), "conv2d_multi has no gradient");
  const cpu::Conv2dShape s = conv_shape(op, x_in, w_in.shape(), stride, pad);
  const Tensor x = x_in.contiguous(), w = w_in.contiguous(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  const int64_t sets = w.size(0);
  if (b.defined()) STUCKAT_CHECK(b.numel() == s.c_out, "conv2d_multi: bias has {} values for {} filters", b.numel(), s.c_out);
  Tensor y = Tensor::empty({sets * s.n, s.c_out, s.h_out(), s.w_out()}, DType::F32, x.device());
  const int64_t w_size = s.c_out * s.c_in * s.kh * s.kw, y_size = s.n * s.c_out * s.h_out() * s.w_out();
  const float* bp = b.defined() ? b.data<float>() : nullptr;
  for (int64_t p = 0; p < sets; ++p) {
    const float* wp = w.data<float>() + p * w_size;
    float* yp = y.data<float>() + p * y_size;
    if (x.device() == Device::CUDA) {
      cuda::conv2d_forward(x.data<float>(), wp, bp, yp, s);
    } else {
      cpu::conv2d_forward(x.data<float>(), wp, bp, yp, s);
    }
  }
  return y;
}

Tensor linear_multi(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in) {
  const char* op = "linear_multi";
  require_f32(op, "input", x_in);
  require_f32(op, "weights", w_in);
  require_dim(op, "input", x_in, 2);
  require_dim(op, "weights", w_in, 3);
  require_same_device(op, x_in, w_in);
  require_same_device(op, x_in, b_in);
  STUCKAT_CHECK(!any_requires_grad({&x_in, &w_in, &b_in}), "linear_multi has no gradient");
  STUCKAT_CHECK(x_in.size(1) == w_in.size(2), "linear_multi: input {} has {} features, weights {} expect {}",
                shape_str(x_in.shape()), x_in.size(1), shape_str(w_in.shape()), w_in.size(2));
  const Tensor x = x_in.contiguous(), w = w_in.contiguous(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  const int64_t sets = w.size(0);
  const cpu::LinearShape s{x.size(0), x.size(1), w.size(1)};
  if (b.defined()) STUCKAT_CHECK(b.numel() == s.out, "linear_multi: bias has {} values for {} outputs", b.numel(), s.out);
  Tensor y = Tensor::empty({sets * s.n, s.out}, DType::F32, x.device());
  const float* bp = b.defined() ? b.data<float>() : nullptr;
  for (int64_t p = 0; p < sets; ++p) {
    const float* wp = w.data<float>() + p * s.out * s.in;
    float* yp = y.data<float>() + p * s.n * s.out;
    if (x.device() == Device::CUDA) {
      cuda::linear_forward(x.data<float>(), wp, bp, yp, s);
    } else {
      cpu::linear_forward(x.data<float>(), wp, bp, yp, s);
    }
  }
  return y;
}

}  // namespace stuckat
