// ReLU kernels: one thread per element, the CPU reference's comparisons (NaN passes through
// the forward, as x < 0 is false for NaN).
#include "kernels/cuda/profile.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/relu.h"

namespace stuckat::cuda {
namespace {

__global__ void relu_forward_kernel(const float* x, float* y, int64_t n) {
  const int64_t i = global_index();
  if (i < n) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

__global__ void relu_backward_kernel(const float* y, const float* dy, float* dx, int64_t n) {
  const int64_t i = global_index();
  if (i < n) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

}  // namespace

void relu_forward(const float* x, float* y, int64_t n) {
  STUCKAT_GPU_PROFILE("relu.fwd");
  if (n == 0) return;
  relu_forward_kernel<<<grid_for(n), kBlock>>>(x, y, n);
  CUDA_CHECK_LAUNCH();
}

void relu_backward(const float* y, const float* dy, float* dx, int64_t n) {
  STUCKAT_GPU_PROFILE("relu.bwd");
  if (n == 0) return;
  relu_backward_kernel<<<grid_for(n), kBlock>>>(y, dy, dx, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace stuckat::cuda
