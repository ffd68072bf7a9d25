// Softmax and log-softmax over one axis on the GPU: the (outer, axis, inner) SoftmaxShape and
// formulas of kernels/cpu/softmax.h, max-shifted. One thread per (outer, inner) row, each sum
// taken in axis order (deterministic). Device pointers, default stream.
#pragma once
#include <cstdint>

#include "kernels/cpu/softmax.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API void softmax_forward(const float* x, float* y, const cpu::SoftmaxShape& s, bool log) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void softmax_backward(const float* y, const float* dy, float* dx, const cpu::SoftmaxShape& s, bool log) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
