// ONNX-general max and average pooling on the GPU (rectangular kernels, per-axis strides,
// per-side pads, dilation for max, ceil_mode, count_include_pad): same shape struct, window rules
// (kernels/cpu/pool2d_window.h), layouts and signatures as kernels/cpu/pool2d_general.h; device
// pointers, default stream. argmax may be null in the max forward (inference). Forward: one
// thread per output, the CPU's window loop. Backward: one thread per input element, gathering
// the outputs whose window reads it (max: whose argmax is it) in row-major output order, the
// order in which the CPU accumulates into that element, so gradients equal the CPU's bit for bit
// (no atomics). Backward overwrites dx.
#pragma once
#include <cstdint>

#include "kernels/cpu/pool2d_general.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API void max_pool2d_general_forward(const float* x, float* y, int32_t* argmax, const cpu::PoolGeneralShape& s) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void max_pool2d_general_backward(const float* dy, const int32_t* argmax, float* dx, const cpu::PoolGeneralShape& s) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void avg_pool2d_general_forward(const float* x, float* y, const cpu::PoolGeneralShape& s) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void avg_pool2d_general_backward(const float* dy, float* dx, const cpu::PoolGeneralShape& s) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
