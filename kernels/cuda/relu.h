// ReLU on the GPU: same signatures and rules as kernels/cpu/relu.h (backward masks by y > 0).
// All pointers are device memory; launches on the default stream and checks the launch.
#pragma once
#include <cstdint>
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API void relu_forward(const float* x, float* y, int64_t n) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void relu_backward(const float* y, const float* dy, float* dx, int64_t n) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
