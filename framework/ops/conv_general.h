// ONNX-general convolution and pooling ops (ONNX Conv, MaxPool, AveragePool on NCHW tensors), with
// autograd. CPU only, except that the cases the plain conv2d / max_pool2d / avg_pool2d ops cover
// are handed to them (and so also run on CUDA tensors); any other case on a CUDA tensor fails.
// Argument errors (ranks, channel counts, non-positive stride, dilation or kernel, negative pads,
// an empty output) are STUCKAT_CHECK failures naming the op and the shapes.
#pragma once
#include "framework/tensor.h"

namespace stuckat {

// ONNX Conv: x (n, c_in, h, w), w (c_out, c_in / groups, kh, kw), b (c_out) or undefined Tensor().
struct ConvGeneralParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
};
Tensor conv2d_general(const Tensor& x, const Tensor& w, const Tensor& b, const ConvGeneralParams& p);

// ONNX MaxPool / AveragePool on (n, c, h, w). Output size per ONNX: floor (or ceil when ceil_mode) of
// (in + pad_begin + pad_end - dilation*(k-1) - 1) / stride + 1; with ceil_mode a window that would start
// entirely in the right/bottom padding is dropped (PyTorch/ONNX rule). Max pool ignores padding
// (padded cells are -inf). Average pool divides by the window's cells inside the input unless
// count_include_pad (then by the cells inside input+explicit pads, as ONNX/PyTorch do; cells past the
// explicit pads that exist only because of ceil_mode are never counted).
// Average pool also requires each pad to be smaller than the kernel along its axis, so that every
// window overlaps the input. A max pool window with no tap inside the input gives -inf and no gradient.
struct PoolGeneralParams {
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;  // max pool only (average pool requires 1)
  bool ceil_mode = false;
  bool count_include_pad = false;  // average pool only
};
Tensor max_pool2d_general(const Tensor& x, const PoolGeneralParams& p);
Tensor avg_pool2d_general(const Tensor& x, const PoolGeneralParams& p);

}  // namespace stuckat
