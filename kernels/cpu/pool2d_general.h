// ONNX-general 2-D max and average pooling on the CPU (framework/ops/conv_general.h is the op):
// rectangular kernels, per-axis strides, per-side pads, dilation (max only), ceil_mode and
// count_include_pad. A templated reference (the test oracle) and the fast float path.
//   x: (n, c, h, w)   y: (n, c, h_out, w_out)
// Output length per axis (pool_output_size): floor, or ceil in ceil_mode, of
// (in + pad_begin + pad_end - dilation*(k-1) - 1) / stride, plus 1; in ceil_mode a last window that
// would start inside the end padding (or past it) is dropped, as in PyTorch and ONNX.
// Window (oy, ox) taps input rows oy*stride_h - pad_top + ky*dilation_h (columns likewise).
// Max pool: taps outside the input are skipped (-inf); the kept element follows max_pool_takes
// (pool2d_window.h: the first maximum in row-major window order, NaN wins). argmax gets its flat
// index within the (h, w) plane, or -1 for a window with no tap inside the input (output -inf).
// Average pool (dilation 1): the sum of the taps inside the input divided by the number of those
// taps, or with count_include_pad by the number of taps inside the input plus its explicit pads
// (the part a ceil_mode window hangs past the end pad never counts). Every window must hold at
// least one input cell (the op requires each pad to be smaller than the kernel).
// Backward overwrites dx.
#pragma once
#include <cstdint>

namespace stuckat::cpu {

// Output length of one axis, or <= 0 when the (dilated) window does not fit the padded input.
inline int64_t pool_output_size(int64_t in, int64_t k, int64_t stride, int64_t pad_begin, int64_t pad_end,
                                int64_t dilation, bool ceil_mode) {
  const int64_t span = in + pad_begin + pad_end - dilation * (k - 1) - 1;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;  // that window starts in the end pad
  return out;
}

struct PoolGeneralShape {
  int64_t n, c, h, w, kh, kw, stride_h, stride_w;
  int64_t pad_top, pad_left, pad_bottom, pad_right, dilation_h, dilation_w;
  bool ceil_mode, count_include_pad;
  int64_t h_out() const { return pool_output_size(h, kh, stride_h, pad_top, pad_bottom, dilation_h, ceil_mode); }
  int64_t w_out() const { return pool_output_size(w, kw, stride_w, pad_left, pad_right, dilation_w, ceil_mode); }
};

template <typename T>
void max_pool2d_general_forward_ref(const T* x, T* y, int32_t* argmax, const PoolGeneralShape& s);
template <typename T>
void max_pool2d_general_backward_ref(const T* dy, const int32_t* argmax, T* dx, const PoolGeneralShape& s);
template <typename T>
void avg_pool2d_general_forward_ref(const T* x, T* y, const PoolGeneralShape& s);
template <typename T>
void avg_pool2d_general_backward_ref(const T* dy, T* dx, const PoolGeneralShape& s);

// Fast float path: the reference's per-plane loops, one (n, c) plane per OpenMP iteration, so the
// results equal the float reference bit for bit on any thread count. argmax may be null
// (inference without gradients).
void max_pool2d_general_forward(const float* x, float* y, int32_t* argmax, const PoolGeneralShape& s);
void max_pool2d_general_backward(const float* dy, const int32_t* argmax, float* dx, const PoolGeneralShape& s);
void avg_pool2d_general_forward(const float* x, float* y, const PoolGeneralShape& s);
void avg_pool2d_general_backward(const float* dy, float* dx, const PoolGeneralShape& s);

}  // namespace stuckat::cpu
