// Pooling kernels. Forward: one thread per output, the reference's window loop. Backward: one
// thread per input element, summing the outputs whose window covers it in row-major output
// order — the order in which the CPU reference accumulates into that element.
#include "kernels/cpu/pool2d_window.h"
#include "kernels/cuda/profile.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/pool2d.h"

namespace stuckat::cuda {
namespace {

using cpu::AdaptivePool2dShape;
using cpu::Pool2dShape;

// Pool2dShape's own h_out()/w_out() are host-only; the same formulas for the kernels.
__host__ __device__ inline int64_t h_out(const Pool2dShape& s) { return (s.h - s.k) / s.stride + 1; }
__host__ __device__ inline int64_t w_out(const Pool2dShape& s) { return (s.w - s.k) / s.stride + 1; }

// Output rows (or columns) whose window [o*stride, o*stride + k) covers input row i: [lo, hi].
__device__ inline void covering(int64_t i, int64_t k, int64_t stride, int64_t out, int64_t* lo, int64_t* hi) {
  const int64_t first = i - k + 1;
  *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  const int64_t last = i / stride;
  *hi = last < out - 1 ? last : out - 1;
}

__global__ void max_pool_forward_kernel(const float* x, float* y, int32_t* argmax, Pool2dShape s) {
  const int64_t ho = h_out(s), wo = w_out(s);
  const int64_t o = global_index();
  if (o >= s.n * s.c * ho * wo) return;
  const int64_t p = o / (ho * wo), oy = o / wo % ho, ox = o % wo;
  const float* xp = x + p * s.h * s.w;
  int64_t best = oy * s.stride * s.w + ox * s.stride;
  for (int64_t ky = 0; ky < s.k; ++ky)
    for (int64_t kx = 0; kx < s.k; ++kx) {
      const int64_t index = (oy * s.stride + ky) * s.w + ox * s.stride + kx;
      if (cpu::max_pool_takes(xp[index], xp[best])) best = index;
    }
  y[o] = xp[best];
  if (argmax) argmax[o] = static_cast<int32_t>(best);
}

__global__ void max_pool_backward_kernel(const float* dy, const int32_t* argmax, float* dx, Pool2dShape s) {
  const int64_t ho = h_out(s), wo = w_out(s);
  const int64_t i = global_index();
  if (i >= s.n * s.c * s.h * s.w) return;
  const int64_t p = i / (s.h * s.w), iy = i / s.w % s.h, ix = i % s.w;
  const int32_t self = static_cast<int32_t>(iy * s.w + ix);
  int64_t y0, y1, x0, x1;
  covering(iy, s.k, s.stride, ho, &y0, &y1);
  covering(ix, s.k, s.stride, wo, &x0, &x1);
  float sum = 0.0f;
  for (int64_t oy = y0; oy <= y1; ++oy)
    for (int64_t ox = x0; ox <= x1; ++ox) {
      const int64_t o = (p * ho + oy) * wo + ox;
      if (argmax[o] == self) sum += dy[o];
    }
  dx[i] = sum;
}

__global__ void avg_pool_forward_kernel(const float* x, float* y, Pool2dShape s) {
  const int64_t ho = h_out(s), wo = w_out(s);
  const int64_t o = global_index();
  if (o >= s.n * s.c * ho * wo) return;
  const int64_t p = o / (ho * wo), oy = o / wo % ho, ox = o % wo;
  const float* xp = x + p * s.h * s.w;
  float sum = 0.0f;
  for (int64_t ky = 0; ky < s.k; ++ky)
    for (int64_t kx = 0; kx < s.k; ++kx) sum += xp[(oy * s.stride + ky) * s.w + ox * s.stride + kx];
  y[o] = sum / static_cast<float>(s.k * s.k);
}

__global__ void avg_pool_backward_kernel(const float* dy, float* dx, Pool2dShape s) {
  const int64_t ho = h_out(s), wo = w_out(s);
  const int64_t i = global_index();
  if (i >= s.n * s.c * s.h * s.w) return;
  const int64_t p = i / (s.h * s.w), iy = i / s.w % s.h, ix = i % s.w;
  int64_t y0, y1, x0, x1;
  covering(iy, s.k, s.stride, ho, &y0, &y1);
  covering(ix, s.k, s.stride, wo, &x0, &x1);
  const float area = static_cast<float>(s.k * s.k);
  float sum = 0.0f;
  for (int64_t oy = y0; oy <= y1; ++oy)
    for (int64_t ox = x0; ox <= x1; ++ox) sum += dy[(p * ho + oy) * wo + ox] / area;
  dx[i] = sum;
}

__global__ void adaptive_forward_kernel(const float* x, float* y, AdaptivePool2dShape s) {
  const int64_t o = global_index();
  if (o >= s.n * s.c * s.oh * s.ow) return;
  const int64_t p = o / (s.oh * s.ow), oy = o / s.ow % s.oh, ox = o % s.ow;
  const int64_t y0 = cpu::adaptive_bin_start(oy, s.h, s.oh), y1 = cpu::adaptive_bin_end(oy, s.h, s.oh);
  const int64_t x0 = cpu::adaptive_bin_start(ox, s.w, s.ow), x1 = cpu::adaptive_bin_end(ox, s.w, s.ow);
  const float* xp = x + p * s.h * s.w;
  float sum = 0.0f;
  for (int64_t iy = y0; iy < y1; ++iy)
    for (int64_t ix = x0; ix < x1; ++ix) sum += xp[iy * s.w + ix];
  y[o] = sum / static_cast<float>((y1 - y0) * (x1 - x0));
}

// Adaptive bins are few (usually 1x1), so each input element scans all of them.
__global__ void adaptive_backward_kernel(const float* dy, float* dx, AdaptivePool2dShape s) {
  const int64_t i = global_index();
  if (i >= s.n * s.c * s.h * s.w) return;
  const int64_t p = i / (s.h * s.w), iy = i / s.w % s.h, ix = i % s.w;
  float sum = 0.0f;
  for (int64_t oy = 0; oy < s.oh; ++oy) {
    const int64_t y0 = cpu::adaptive_bin_start(oy, s.h, s.oh), y1 = cpu::adaptive_bin_end(oy, s.h, s.oh);
    if (iy < y0 || iy >= y1) continue;
    for (int64_t ox = 0; ox < s.ow; ++ox) {
      const int64_t x0 = cpu::adaptive_bin_start(ox, s.w, s.ow), x1 = cpu::adaptive_bin_end(ox, s.w, s.ow);
      if (ix < x0 || ix >= x1) continue;
      sum += dy[(p * s.oh + oy) * s.ow + ox] / static_cast<float>((y1 - y0) * (x1 - x0));
    }
  }
  dx[i] = sum;
}

}  // namespace

void max_pool2d_forward(const float* x, float* y, int32_t* argmax, const Pool2dShape& s) {
  STUCKAT_GPU_PROFILE("max_pool.fwd");
  const int64_t n = s.n * s.c * h_out(s) * w_out(s);
  if (n == 0) return;
  max_pool_forward_kernel<<<grid_for(n), kBlock>>>(x, y, argmax, s);
  CUDA_CHECK_LAUNCH();
}

void max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx, const Pool2dShape& s) {
  STUCKAT_GPU_PROFILE("max_pool.bwd");
  const int64_t n = s.n * s.c * s.h * s.w;
  if (n == 0) return;
  max_pool_backward_kernel<<<grid_for(n), kBlock>>>(dy, argmax, dx, s);
  CUDA_CHECK_LAUNCH();
}

void avg_pool2d_forward(const float* x, float* y, const Pool2dShape& s) {
  STUCKAT_GPU_PROFILE("avg_pool.fwd");
  const int64_t n = s.n * s.c * h_out(s) * w_out(s);
  if (n == 0) return;
  avg_pool_forward_kernel<<<grid_for(n), kBlock>>>(x, y, s);
  CUDA_CHECK_LAUNCH();
}

void avg_pool2d_backward(const float* dy, float* dx, const Pool2dShape& s) {
  STUCKAT_GPU_PROFILE("avg_pool.bwd");
  const int64_t n = s.n * s.c * s.h * s.w;
  if (n == 0) return;
  avg_pool_backward_kernel<<<grid_for(n), kBlock>>>(dy, dx, s);
  CUDA_CHECK_LAUNCH();
}

void adaptive_avg_pool2d_forward(const float* x, float* y, const AdaptivePool2dShape& s) {
  STUCKAT_GPU_PROFILE("adaptive_pool.fwd");
  const int64_t n = s.n * s.c * s.oh * s.ow;
  if (n == 0) return;
  adaptive_forward_kernel<<<grid_for(n), kBlock>>>(x, y, s);
  CUDA_CHECK_LAUNCH();
}

void adaptive_avg_pool2d_backward(const float* dy, float* dx, const AdaptivePool2dShape& s) {
  STUCKAT_GPU_PROFILE("adaptive_pool.bwd");
  const int64_t n = s.n * s.c * s.h * s.w;
  if (n == 0) return;
  adaptive_backward_kernel<<<grid_for(n), kBlock>>>(dy, dx, s);
  CUDA_CHECK_LAUNCH();
}

}  // namespace stuckat::cuda
