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
template <typename I>
__device__ inline void covering(I i, I k, I stride, I out, I* lo, I* hi) {
  const I first = i - k + 1;
  *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  const I last = i / stride;
  *hi = last < out - 1 ? last : out - 1;
}

// The max and average pooling kernels index in I: int32_t whenever the tensors allow
// (fits_int32; integer division is emulated on the GPU, a 64-bit one several times a 32-bit
// one, and a pass over a sweep's stacked activations has tens of millions of outputs).
template <typename I>
struct PoolDims {
  I nc, h, w, k, stride, ho, wo;
};

template <typename I>
PoolDims<I> pool_dims(const Pool2dShape& s) {
  return {static_cast<I>(s.n * s.c), static_cast<I>(s.h), static_cast<I>(s.w), static_cast<I>(s.k),
          static_cast<I>(s.stride), static_cast<I>(h_out(s)), static_cast<I>(w_out(s))};
}

bool pool_fits_int32(const Pool2dShape& s) { return fits_int32(s.n * s.c * s.h * s.w + s.h + s.w); }

template <typename I>
__global__ void max_pool_forward_kernel(const float* x, float* y, int32_t* argmax, PoolDims<I> s) {
  const I o = thread_index<I>();
  if (o >= s.nc * s.ho * s.wo) return;
  const I p = o / (s.ho * s.wo), q = o - p * (s.ho * s.wo), oy = q / s.wo, ox = q - oy * s.wo;
  const float* xp = x + p * s.h * s.w;
  I best = oy * s.stride * s.w + ox * s.stride;
  for (I ky = 0; ky < s.k; ++ky)
    for (I kx = 0; kx < s.k; ++kx) {
      const I index = (oy * s.stride + ky) * s.w + ox * s.stride + kx;
      if (cpu::max_pool_takes(xp[index], xp[best])) best = index;
    }
  y[o] = xp[best];
  if (argmax) argmax[o] = static_cast<int32_t>(best);
}

template <typename I>
__global__ void max_pool_backward_kernel(const float* dy, const int32_t* argmax, float* dx, PoolDims<I> s) {
  const I i = thread_index<I>();
  if (i >= s.nc * s.h * s.w) return;
  const I p = i / (s.h * s.w), r = i - p * (s.h * s.w), iy = r / s.w, ix = r - iy * s.w;
  const int32_t self = static_cast<int32_t>(iy * s.w + ix);
  I y0, y1, x0, x1;
  covering<I>(iy, s.k, s.stride, s.ho, &y0, &y1);
  covering<I>(ix, s.k, s.stride, s.wo, &x0, &x1);
  float sum = 0.0f;
  for (I oy = y0; oy <= y1; ++oy)
    for (I ox = x0; ox <= x1; ++ox) {
      const I o = (p * s.ho + oy) * s.wo + ox;
      if (argmax[o] == self) sum += dy[o];
    }
  dx[i] = sum;
}

template <typename I>
__global__ void avg_pool_forward_kernel(const float* x, float* y, PoolDims<I> s) {
  const I o = thread_index<I>();
  if (o >= s.nc * s.ho * s.wo) return;
  const I p = o / (s.ho * s.wo), q = o - p * (s.ho * s.wo), oy = q / s.wo, ox = q - oy * s.wo;
  const float* xp = x + p * s.h * s.w;
  float sum = 0.0f;
  for (I ky = 0; ky < s.k; ++ky)
    for (I kx = 0; kx < s.k; ++kx) sum += xp[(oy * s.stride + ky) * s.w + ox * s.stride + kx];
  y[o] = sum / static_cast<float>(s.k * s.k);
}

template <typename I>
__global__ void avg_pool_backward_kernel(const float* dy, float* dx, PoolDims<I> s) {
  const I i = thread_index<I>();
  if (i >= s.nc * s.h * s.w) return;
  const I p = i / (s.h * s.w), r = i - p * (s.h * s.w), iy = r / s.w, ix = r - iy * s.w;
  I y0, y1, x0, x1;
  covering<I>(iy, s.k, s.stride, s.ho, &y0, &y1);
  covering<I>(ix, s.k, s.stride, s.wo, &x0, &x1);
  const float area = static_cast<float>(s.k * s.k);
  float sum = 0.0f;
  for (I oy = y0; oy <= y1; ++oy)
    for (I ox = x0; ox <= x1; ++ox) sum += dy[(p * s.ho + oy) * s.wo + ox] / area;
  dx[i] = sum;
}

// Calls launch(pool_dims<I>(s)) with I = int32_t when the shape allows, else int64_t.
template <typename Launch>
void with_pool_dims(const Pool2dShape& s, Launch&& launch) {
  if (pool_fits_int32(s))
    launch(pool_dims<int32_t>(s));
  else
    launch(pool_dims<int64_t>(s));
  CUDA_CHECK_LAUNCH();
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
  with_pool_dims(s, [&](auto d) { max_pool_forward_kernel<<<grid_for(n), kBlock>>>(x, y, argmax, d); });
}

void max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx, const Pool2dShape& s) {
  STUCKAT_GPU_PROFILE("max_pool.bwd");
  const int64_t n = s.n * s.c * s.h * s.w;
  if (n == 0) return;
  with_pool_dims(s, [&](auto d) { max_pool_backward_kernel<<<grid_for(n), kBlock>>>(dy, argmax, dx, d); });
}

void avg_pool2d_forward(const float* x, float* y, const Pool2dShape& s) {
  STUCKAT_GPU_PROFILE("avg_pool.fwd");
  const int64_t n = s.n * s.c * h_out(s) * w_out(s);
  if (n == 0) return;
  with_pool_dims(s, [&](auto d) { avg_pool_forward_kernel<<<grid_for(n), kBlock>>>(x, y, d); });
}

void avg_pool2d_backward(const float* dy, float* dx, const Pool2dShape& s) {
  STUCKAT_GPU_PROFILE("avg_pool.bwd");
  const int64_t n = s.n * s.c * s.h * s.w;
  if (n == 0) return;
  with_pool_dims(s, [&](auto d) { avg_pool_backward_kernel<<<grid_for(n), kBlock>>>(dy, dx, d); });
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
