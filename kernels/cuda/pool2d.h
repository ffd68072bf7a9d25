// Pooling on the GPU: same shapes, window rules (kernels/cpu/pool2d_window.h) and signatures as
// kernels/cpu/pool2d.h; device pointers, default stream. argmax may be null (inference).
// Backward kernels gather per input element in the CPU's accumulation order (no atomics), so
// max-pool gradients match the CPU bit for bit.
#pragma once
#include <cstdint>

#include "kernels/cpu/pool2d.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API void max_pool2d_forward(const float* x, float* y, int32_t* argmax, const cpu::Pool2dShape& s) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx, const cpu::Pool2dShape& s) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void avg_pool2d_forward(const float* x, float* y, const cpu::Pool2dShape& s) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void avg_pool2d_backward(const float* dy, float* dx, const cpu::Pool2dShape& s) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void adaptive_avg_pool2d_forward(const float* x, float* y, const cpu::AdaptivePool2dShape& s) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void adaptive_avg_pool2d_backward(const float* dy, float* dx, const cpu::AdaptivePool2dShape& s) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
