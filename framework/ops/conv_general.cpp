// ONNX-general conv2d, max and average pooling: argument checks, the hand-over to the plain
// conv2d / max_pool2d / avg_pool2d ops where those compute the same thing (their fast and CUDA
// paths), the general CPU or CUDA kernels otherwise, and the autograd nodes.
#include "framework/ops/conv_general.h"

#include <limits>
#include <string>

#include "framework/autograd.h"
#include "framework/ops.h"
#include "framework/ops/op_checks.h"
#include "framework/ops/weighted_layer_backward.h"
#include "kernels/cpu/conv2d_general.h"
#include "kernels/cpu/pool2d_general.h"
#include "kernels/cuda/conv2d_general.h"
#include "kernels/cuda/pool2d_general.h"

namespace stuckat {
namespace {
using namespace ops_detail;

std::string describe(const ConvGeneralParams& p) {
  return fmt::format("stride {}x{}, pads (top {}, left {}, bottom {}, right {}), dilation {}x{}, groups {}", p.stride_h,
                     p.stride_w, p.pad_top, p.pad_left, p.pad_bottom, p.pad_right, p.dilation_h, p.dilation_w,
                     p.groups);
}

std::string describe(const PoolGeneralParams& p) {
  return fmt::format("kernel {}x{}, stride {}x{}, pads (top {}, left {}, bottom {}, right {}), dilation {}x{}{}{}",
                     p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.pad_top, p.pad_left, p.pad_bottom, p.pad_right,
                     p.dilation_h, p.dilation_w, p.ceil_mode ? ", ceil_mode" : "",
                     p.count_include_pad ? ", count_include_pad" : "");
}

// Output length of one conv axis, or <= 0 when the dilated kernel does not fit the padded input.
int64_t conv_output_size(int64_t in, int64_t k, int64_t stride, int64_t pad_begin, int64_t pad_end, int64_t dilation) {
  const int64_t span = in + pad_begin + pad_end - dilation * (k - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

cpu::ConvGeneralShape conv_general_shape(const Tensor& x, const Tensor& w, const Tensor& b,
                                         const ConvGeneralParams& p) {
  const char* op = "conv2d_general";
  require_f32(op, "input", x);
  require_f32(op, "weight", w);
  require_dim(op, "input", x, 4);
  require_dim(op, "weight", w, 4);
  require_same_device(op, x, w);
  require_same_device(op, x, b);
  const std::string xs = shape_str(x.shape()), ws = shape_str(w.shape());
  STUCKAT_CHECK(x.numel() > 0, "{}: input {} is empty", op, xs);
  STUCKAT_CHECK(p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 && p.dilation_w >= 1 && p.groups >= 1,
                "{}: input {}, weight {}: strides, dilations and groups must be >= 1 ({})", op, xs, ws, describe(p));
  STUCKAT_CHECK(p.pad_top >= 0 && p.pad_left >= 0 && p.pad_bottom >= 0 && p.pad_right >= 0,
                "{}: input {}, weight {}: pads must be >= 0 ({})", op, xs, ws, describe(p));
  const int64_t c_in = x.size(1), c_out = w.size(0);
  STUCKAT_CHECK(c_in % p.groups == 0 && c_out % p.groups == 0,
                "{}: input {} ({} channels) and weight {} ({} filters) not divisible into {} groups", op, xs, c_in, ws,
                c_out, p.groups);
  STUCKAT_CHECK(w.size(1) == c_in / p.groups,
                "{}: input {} has {} channels in each of {} groups, weight {} expects {}", op, xs, c_in / p.groups,
                p.groups, ws, w.size(1));
  STUCKAT_CHECK(w.size(2) >= 1 && w.size(3) >= 1, "{}: weight {} has an empty kernel", op, ws);
  if (b.defined()) {
    require_f32(op, "bias", b);
    STUCKAT_CHECK(b.dim() == 1 && b.size(0) == c_out, "{}: bias {} for weight {} ({} filters)", op,
                  shape_str(b.shape()), ws, c_out);
  }
  // Fields: n, c_in, h, w, c_out, kh, kw, strides, pads (top, left, bottom, right), dilations, groups.
  const cpu::ConvGeneralShape s{x.size(0), c_in, x.size(2), x.size(3), c_out, w.size(2), w.size(3),
                                p.stride_h, p.stride_w, p.pad_top, p.pad_left, p.pad_bottom, p.pad_right,
                                p.dilation_h, p.dilation_w, p.groups};
  const int64_t ho = conv_output_size(s.h, s.kh, s.stride_h, s.pad_top, s.pad_bottom, s.dilation_h);
  const int64_t wo = conv_output_size(s.w, s.kw, s.stride_w, s.pad_left, s.pad_right, s.dilation_w);
  STUCKAT_CHECK(s.n >= 1 && c_out >= 1 && ho >= 1 && wo >= 1, "{}: input {}, weight {} ({}) give an empty output",
                op, xs, ws, describe(p));
  return s;
}

cpu::PoolGeneralShape pool_general_shape(const char* op, const Tensor& x, const PoolGeneralParams& p, bool is_max) {
  require_f32(op, "input", x);
  require_dim(op, "input", x, 4);
  const std::string xs = shape_str(x.shape());
  STUCKAT_CHECK(x.numel() > 0, "{}: input {} is empty", op, xs);
  STUCKAT_CHECK(p.kernel_h >= 1 && p.kernel_w >= 1 && p.stride_h >= 1 && p.stride_w >= 1 && p.dilation_h >= 1 &&
                    p.dilation_w >= 1,
                "{}: input {}: kernel, strides and dilations must be >= 1 ({})", op, xs, describe(p));
  STUCKAT_CHECK(p.pad_top >= 0 && p.pad_left >= 0 && p.pad_bottom >= 0 && p.pad_right >= 0,
                "{}: input {}: pads must be >= 0 ({})", op, xs, describe(p));
  if (!is_max) {
    STUCKAT_CHECK(p.dilation_h == 1 && p.dilation_w == 1, "{}: input {}: dilation must be 1 ({})", op, xs,
                  describe(p));
    STUCKAT_CHECK(p.pad_top < p.kernel_h && p.pad_bottom < p.kernel_h && p.pad_left < p.kernel_w &&
                      p.pad_right < p.kernel_w,
                  "{}: input {}: each pad must be smaller than the kernel ({})", op, xs, describe(p));
  }
  // Fields: n, c, h, w, kernel, strides, pads (top, left, bottom, right), dilations, ceil_mode, count_include_pad.
  const cpu::PoolGeneralShape s{x.size(0), x.size(1), x.size(2), x.size(3), p.kernel_h, p.kernel_w,
                                p.stride_h, p.stride_w, p.pad_top, p.pad_left, p.pad_bottom, p.pad_right,
                                p.dilation_h, p.dilation_w, p.ceil_mode, !is_max && p.count_include_pad};
  STUCKAT_CHECK(s.n >= 1 && s.c >= 1 && s.h_out() >= 1 && s.w_out() >= 1, "{}: input {} ({}) gives an empty output",
                op, xs, describe(p));
  STUCKAT_CHECK(s.h * s.w <= std::numeric_limits<int32_t>::max(), "{}: input {} has planes too large", op, xs);
  return s;
}

// True when the plain pooling op (square kernel, one stride, no padding or dilation, floor mode)
// computes exactly this pool: ceil_mode then only matters when it adds an output.
bool plain_pool(const cpu::PoolGeneralShape& s) {
  return s.kh == s.kw && s.stride_h == s.stride_w && s.pad_top == 0 && s.pad_left == 0 && s.pad_bottom == 0 &&
         s.pad_right == 0 && s.dilation_h == 1 && s.dilation_w == 1 && s.h_out() == (s.h - s.kh) / s.stride_h + 1 &&
         s.w_out() == (s.w - s.kw) / s.stride_w + 1;
}

struct MaxPool2dGeneralBackward : Node {
  Tensor argmax;  // i32, one per output
  Shape x_shape;
  cpu::PoolGeneralShape s{};
  const char* name() const override { return "MaxPool2dGeneralBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::empty(x_shape, DType::F32, dy.device());
    if (dy.device() == Device::CUDA) {
      cuda::max_pool2d_general_backward(dy.data<float>(), argmax.data<int32_t>(), dx.data<float>(), s);
    } else {
      cpu::max_pool2d_general_backward(dy.data<float>(), argmax.data<int32_t>(), dx.data<float>(), s);
    }
    return {dx};
  }
};

struct AvgPool2dGeneralBackward : Node {
  Shape x_shape;
  cpu::PoolGeneralShape s{};
  const char* name() const override { return "AvgPool2dGeneralBackward"; }
  std::vector<Tensor> backward(const Tensor& dy_in) override {
    Tensor dy = dy_in.contiguous();
    Tensor dx = Tensor::empty(x_shape, DType::F32, dy.device());
    if (dy.device() == Device::CUDA) {
      cuda::avg_pool2d_general_backward(dy.data<float>(), dx.data<float>(), s);
    } else {
      cpu::avg_pool2d_general_backward(dy.data<float>(), dx.data<float>(), s);
    }
    return {dx};
  }
};

}  // namespace

Tensor conv2d_general(const Tensor& x_in, const Tensor& w_in, const Tensor& b_in, const ConvGeneralParams& p) {
  const cpu::ConvGeneralShape s = conv_general_shape(x_in, w_in, b_in, p);
  // conv2d covers one group, no dilation, one stride and one pad on all four sides.
  if (s.groups == 1 && s.dilation_h == 1 && s.dilation_w == 1 && s.stride_h == s.stride_w &&
      s.pad_top == s.pad_left && s.pad_top == s.pad_bottom && s.pad_top == s.pad_right)
    return conv2d(x_in, w_in, b_in, s.stride_h, s.pad_top);

  Tensor x = x_in.contiguous(), w = w_in.contiguous(), b = b_in.defined() ? b_in.contiguous() : Tensor();
  Tensor y = Tensor::empty({s.n, s.c_out, s.h_out(), s.w_out()}, DType::F32, x.device());
  if (x.device() == Device::CUDA) {
    cuda::conv2d_general_forward(x.data<float>(), w.data<float>(), b.defined() ? b.data<float>() : nullptr,
                                 y.data<float>(), s);
  } else {
    cpu::conv2d_general_forward(x.data<float>(), w.data<float>(), b.defined() ? b.data<float>() : nullptr,
                                y.data<float>(), s);
  }
  if (any_requires_grad({&x_in, &w_in, &b_in})) {
    auto node = std::make_shared<WeightedLayerBackward<cpu::ConvGeneralShape>>();
    node->label = "Conv2dGeneralBackward";
    node->cpu_backward = cpu::conv2d_general_backward;
    node->cuda_backward = cuda::conv2d_general_backward;
    node->x = x.detach();
    node->w = w.detach();
    node->has_bias = b.defined();
    node->bias_size = s.c_out;
    node->s = s;
    connect(y, node, {&x_in, &w_in, &b_in});
  }
  return y;
}

Tensor max_pool2d_general(const Tensor& x_in, const PoolGeneralParams& p) {
  const cpu::PoolGeneralShape s = pool_general_shape("max_pool2d_general", x_in, p, true);
  if (plain_pool(s)) return max_pool2d(x_in, s.kh, s.stride_h);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({s.n, s.c, s.h_out(), s.w_out()}, DType::F32, x.device());
  // Inference keeps no argmax for a backward pass.
  Tensor argmax = any_requires_grad({&x_in}) ? Tensor::empty(y.shape(), DType::I32, x.device()) : Tensor();
  int32_t* argmax_p = argmax.defined() ? argmax.data<int32_t>() : nullptr;
  if (x.device() == Device::CUDA) {
    cuda::max_pool2d_general_forward(x.data<float>(), y.data<float>(), argmax_p, s);
  } else {
    cpu::max_pool2d_general_forward(x.data<float>(), y.data<float>(), argmax_p, s);
  }
  if (argmax.defined()) {
    auto node = std::make_shared<MaxPool2dGeneralBackward>();
    node->argmax = argmax;
    node->x_shape = x.shape();
    node->s = s;
    connect(y, node, {&x_in});
  }
  return y;
}

Tensor avg_pool2d_general(const Tensor& x_in, const PoolGeneralParams& p) {
  const cpu::PoolGeneralShape s = pool_general_shape("avg_pool2d_general", x_in, p, false);
  if (plain_pool(s)) return avg_pool2d(x_in, s.kh, s.stride_h);
  Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty({s.n, s.c, s.h_out(), s.w_out()}, DType::F32, x.device());
  if (x.device() == Device::CUDA) {
    cuda::avg_pool2d_general_forward(x.data<float>(), y.data<float>(), s);
  } else {
    cpu::avg_pool2d_general_forward(x.data<float>(), y.data<float>(), s);
  }
  if (any_requires_grad({&x_in})) {
    auto node = std::make_shared<AvgPool2dGeneralBackward>();
    node->x_shape = x.shape();
    node->s = s;
    connect(y, node, {&x_in});
  }
  return y;
}

}  // namespace stuckat
