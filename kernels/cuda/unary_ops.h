// Element-wise activations on the GPU (Sigmoid, Tanh, LeakyRelu, HardSigmoid, HardSwish, Clip,
// Identity): the formulas, kink gradients and NaN rules of kernels/cpu/unary_ops.h, one thread
// per element. Device pointers, default stream. x or y may be null where
// cpu::unary_backward_reads_input says the backward does not read it.
#pragma once
#include <cstdint>

#include "kernels/cpu/unary_ops.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API void unary_forward(cpu::UnaryFn fn, float a, float b, const float* x, float* y, int64_t n) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void unary_backward(cpu::UnaryFn fn, float a, float b, const float* x, const float* y, const float* dy, float* dx, int64_t n) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
