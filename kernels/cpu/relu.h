// ReLU on the CPU. Backward uses the output (y > 0) as the mask, so x need not be kept.
#pragma once
#include <cstdint>

namespace stuckat::cpu {

template <typename T> void relu_forward_ref(const T* x, T* y, int64_t n);
template <typename T> void relu_backward_ref(const T* y, const T* dy, T* dx, int64_t n);

void relu_forward(const float* x, float* y, int64_t n);
void relu_backward(const float* y, const float* dy, float* dx, int64_t n);

}  // namespace stuckat::cpu
