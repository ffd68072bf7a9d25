// ReLU on the GPU: same signatures and rules as kernels/cpu/relu.h (backward masks by y > 0).
// All pointers are device memory; launches on the default stream and checks the launch.
#pragma once
#include <cstdint>

namespace stuckat::cuda {

void relu_forward(const float* x, float* y, int64_t n);
void relu_backward(const float* y, const float* dy, float* dx, int64_t n);

}  // namespace stuckat::cuda
