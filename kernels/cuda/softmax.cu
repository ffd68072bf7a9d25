// Softmax / log-softmax kernels: one thread per (outer, inner) row, walking the axis with stride
// `inner`, in the steps of the CPU fast path (kernels/cpu/softmax.cpp): the max, the sum of
// exp(x - max) in axis order, then exp(x - m) * (1 / sum) or (x - m) - log(sum). Products feeding
// a sum are written with __fmul_rn so nvcc does not fuse them into an FMA.
#include "kernels/cuda/profile.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/softmax.h"

#include <algorithm>

namespace stuckat::cuda {
namespace {

constexpr int64_t kMaxBlocks = 65535;

unsigned blocks_for(int64_t n) { return static_cast<unsigned>(std::min<int64_t>(grid_for(n), kMaxBlocks)); }

__global__ void softmax_forward_kernel(const float* x, float* y, cpu::SoftmaxShape s, bool log) {
  const int64_t rows = s.outer * s.inner;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t r = global_index(); r < rows; r += step) {
    const int64_t base = r / s.inner * s.axis * s.inner + r % s.inner;
    const float* xp = x + base;
    float* yp = y + base;
    float m = xp[0];
    for (int64_t k = 1; k < s.axis; ++k) {
      const float v = xp[k * s.inner];
      m = v > m ? v : m;
    }
    float sum = 0.0f;
    for (int64_t k = 0; k < s.axis; ++k) sum += expf(xp[k * s.inner] - m);
    if (log) {
      const float ls = logf(sum);
      for (int64_t k = 0; k < s.axis; ++k) yp[k * s.inner] = (xp[k * s.inner] - m) - ls;
    } else {
      const float inv = 1.0f / sum;
      for (int64_t k = 0; k < s.axis; ++k) yp[k * s.inner] = expf(xp[k * s.inner] - m) * inv;
    }
  }
}

__global__ void softmax_backward_kernel(const float* y, const float* dy, float* dx, cpu::SoftmaxShape s, bool log) {
  const int64_t rows = s.outer * s.inner;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t r = global_index(); r < rows; r += step) {
    const int64_t base = r / s.inner * s.axis * s.inner + r % s.inner;
    float sum = 0.0f;  // sum dy (log-softmax) or sum dy * y (softmax)
    for (int64_t k = 0; k < s.axis; ++k) {
      const int64_t j = base + k * s.inner;
      sum += log ? dy[j] : __fmul_rn(dy[j], y[j]);
    }
    for (int64_t k = 0; k < s.axis; ++k) {
      const int64_t j = base + k * s.inner;
      dx[j] = log ? dy[j] - __fmul_rn(expf(y[j]), sum) : y[j] * (dy[j] - sum);
    }
  }
}

}  // namespace

void softmax_forward(const float* x, float* y, const cpu::SoftmaxShape& s, bool log) {
  STUCKAT_GPU_PROFILE("softmax.fwd");
  if (s.numel() == 0) return;
  softmax_forward_kernel<<<blocks_for(s.outer * s.inner), kBlock>>>(x, y, s, log);
  CUDA_CHECK_LAUNCH();
}

void softmax_backward(const float* y, const float* dy, float* dx, const cpu::SoftmaxShape& s, bool log) {
  STUCKAT_GPU_PROFILE("softmax.bwd");
  if (s.numel() == 0) return;
  softmax_backward_kernel<<<blocks_for(s.outer * s.inner), kBlock>>>(y, dy, dx, s, log);
  CUDA_CHECK_LAUNCH();
}

}  // namespace stuckat::cuda
