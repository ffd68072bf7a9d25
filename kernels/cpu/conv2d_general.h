// ONNX-general 2-D convolution on the CPU: per-side padding, per-axis stride and dilation, and
// channel groups (framework/ops/conv_general.h is the op). A plain reference (the test oracle,
// templated so gradient checks can run in double) and the fast float path with the same
// raw-pointer signature. Layouts, all row-major and contiguous:
//   x: (n, c_in, h, w)   w: (c_out, c_in / groups, kh, kw)   b: (c_out) or nullptr
//   y: (n, c_out, h_out, w_out), h_out = (h + pad_top + pad_bottom - dilation_h*(kh-1) - 1) / stride_h + 1
// Output channel co reads the input channels of its group g = co / (c_out / groups), i.e.
// [g * c_in/groups, (g+1) * c_in/groups). Backward overwrites dx, dw, db (no accumulation); dx and
// db may be nullptr when not needed. The shape must be valid (the op checks it): c_in and c_out
// divisible by groups, strides and dilations >= 1, pads >= 0, h_out and w_out >= 1.
#pragma once
#include <cstdint>

namespace stuckat::cpu {

struct ConvGeneralShape {
  int64_t n, c_in, h, w, c_out, kh, kw;
  int64_t stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, dilation_h, dilation_w, groups;
  int64_t h_out() const { return (h + pad_top + pad_bottom - dilation_h * (kh - 1) - 1) / stride_h + 1; }
  int64_t w_out() const { return (w + pad_left + pad_right - dilation_w * (kw - 1) - 1) / stride_w + 1; }
  int64_t c_in_group() const { return c_in / groups; }
  int64_t c_out_group() const { return c_out / groups; }
};

template <typename T>
void conv2d_general_forward_ref(const T* x, const T* w, const T* b, T* y, const ConvGeneralShape& s);
template <typename T>
void conv2d_general_backward_ref(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db,
                                 const ConvGeneralShape& s);

// Fast float path. Results do not depend on the thread count (every element is summed in an
// order fixed by the shape alone).
void conv2d_general_forward(const float* x, const float* w, const float* b, float* y, const ConvGeneralShape& s);
void conv2d_general_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                             const ConvGeneralShape& s);

}  // namespace stuckat::cpu
