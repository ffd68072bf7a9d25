// Element-wise activation kernels: one thread per element (grid-stride), the formulas of
// kernels/cpu/unary_ops.cpp. Products and sums are written with __fmul_rn / __fadd_rn where nvcc
// would otherwise fuse them into an FMA, so each value rounds as the CPU's does; expf and tanhf
// are CUDA's (within 2 ulp of the host's). The clamps keep NaN as on the CPU.
#include "kernels/cuda/profile.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/unary_ops.h"

#include <algorithm>

namespace stuckat::cuda {
namespace {

using cpu::UnaryFn;

// At most this many blocks per launch; the grid-stride loop covers the rest.
constexpr int64_t kMaxBlocks = 65535;

unsigned blocks_for(int64_t n) { return static_cast<unsigned>(std::min<int64_t>(grid_for(n), kMaxBlocks)); }

__device__ inline float clamp_keep_nan(float v, float lo, float hi) {
  const float t = v < lo ? lo : v;
  return t > hi ? hi : t;
}

__device__ inline float forward_value(UnaryFn fn, float a, float b, float v) {
  switch (fn) {
    case UnaryFn::Sigmoid: return 1.0f / (1.0f + expf(-v));
    case UnaryFn::Tanh: return tanhf(v);
    case UnaryFn::LeakyRelu: return v >= 0.0f ? v : a * v;
    case UnaryFn::HardSigmoid: return clamp_keep_nan(__fadd_rn(__fmul_rn(a, v), b), 0.0f, 1.0f);
    case UnaryFn::HardSwish: return v * clamp_keep_nan(v / 6.0f + 0.5f, 0.0f, 1.0f);
    case UnaryFn::Clip: return clamp_keep_nan(v, a, b);
    case UnaryFn::Identity: return v;
  }
  return v;
}

// x and y are 0 where the caller passed no array (the function does not read it).
__device__ inline float backward_value(UnaryFn fn, float a, float b, float x, float y, float g) {
  switch (fn) {
    case UnaryFn::Sigmoid: return g * y * (1.0f - y);
    case UnaryFn::Tanh: return g * (1.0f - __fmul_rn(y, y));
    case UnaryFn::LeakyRelu: return x > 0.0f ? g : a * g;
    case UnaryFn::HardSigmoid: {
      const float v = __fadd_rn(__fmul_rn(a, x), b);
      return v > 0.0f && v < 1.0f ? a * g : 0.0f;
    }
    case UnaryFn::HardSwish: return x < -3.0f ? 0.0f : x <= 3.0f ? g * (x / 3.0f + 0.5f) : g;
    case UnaryFn::Clip: return x >= a && x <= b ? g : 0.0f;
    case UnaryFn::Identity: return g;
  }
  return g;
}

__global__ void unary_forward_kernel(UnaryFn fn, float a, float b, const float* x, float* y, int64_t n) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = global_index(); i < n; i += step) y[i] = forward_value(fn, a, b, x[i]);
}

__global__ void unary_backward_kernel(UnaryFn fn, float a, float b, const float* x, const float* y,
                                      const float* dy, float* dx, int64_t n) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = global_index(); i < n; i += step)
    dx[i] = backward_value(fn, a, b, x ? x[i] : 0.0f, y ? y[i] : 0.0f, dy[i]);
}

}  // namespace

void unary_forward(UnaryFn fn, float a, float b, const float* x, float* y, int64_t n) {
  STUCKAT_GPU_PROFILE("unary.fwd");
  if (n == 0) return;
  unary_forward_kernel<<<blocks_for(n), kBlock>>>(fn, a, b, x, y, n);
  CUDA_CHECK_LAUNCH();
}

void unary_backward(UnaryFn fn, float a, float b, const float* x, const float* y, const float* dy, float* dx,
                    int64_t n) {
  STUCKAT_GPU_PROFILE("unary.bwd");
  if (n == 0) return;
  unary_backward_kernel<<<blocks_for(n), kBlock>>>(fn, a, b, x, y, dy, dx, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace stuckat::cuda
