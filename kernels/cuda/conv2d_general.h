// ONNX-general conv2d on the GPU (per-side pads, per-axis strides and dilations, groups incl.
// depthwise): same shape struct, layouts and signatures as kernels/cpu/conv2d_general.h; device
// pointers, default stream. Plain kernels, one thread per element written, each summing its
// terms in a fixed order (no atomics), so results are the same on every run:
//   forward  one thread per output: the bias, then (ci, ky, kx) as in the CPU reference
//   dx       one thread per input element: its group's filters, (co, ky, kx), the taps that read it
//   dw       one thread per weight: images in order, output positions row-major
//   db       one thread per output channel: images in order, positions row-major
// Backward overwrites dx, dw, db; dx and db may be null.
#pragma once

#include "kernels/cpu/conv2d_general.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API void conv2d_general_forward(const float* x, const float* w, const float* b, float* y, const cpu::ConvGeneralShape& s) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void conv2d_general_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, const cpu::ConvGeneralShape& s) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
