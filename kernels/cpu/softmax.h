// Softmax and log-softmax over one axis on the CPU. The tensor is seen as (outer, axis, inner):
// element (o, k, i) sits at (o * axis + k) * inner + i, and each (o, i) pair is one softmax over k.
//   softmax:      y_k = exp(x_k - m) / s               with m = max_k x_k, s = sum_k exp(x_k - m)
//   log-softmax:  y_k = (x_k - m) - log(s)
// The max shift keeps exp from overflowing (inputs of 1000 are fine). Backward uses the output:
//   softmax:      dx_k = y_k * (dy_k - sum_j dy_j y_j)
//   log-softmax:  dx_k = dy_k - exp(y_k) * sum_j dy_j
#pragma once
#include <cstdint>

namespace stuckat::cpu {

struct SoftmaxShape {
  int64_t outer, axis, inner;
  int64_t numel() const { return outer * axis * inner; }
};

// Reference loops (the test oracle), float and double.
template <typename T> void softmax_forward_ref(const T* x, T* y, const SoftmaxShape& s, bool log);
template <typename T> void softmax_backward_ref(const T* y, const T* dy, T* dx, const SoftmaxShape& s, bool log);

// Fast float path: each task takes one outer index and a block of inner positions, running the
// sums over the axis for the whole block at once (unit-stride loops); each sum is taken in axis
// order, so the thread count changes nothing.
void softmax_forward(const float* x, float* y, const SoftmaxShape& s, bool log);
void softmax_backward(const float* y, const float* dy, float* dx, const SoftmaxShape& s, bool log);

}  // namespace stuckat::cpu
