// ONNX-general pooling kernels (kernels/cuda/pool2d_general.h): the CPU's per-window loops of
// kernels/cpu/pool2d_general.cpp, one thread per output forward and one per input backward.
// Plain 64-bit indexing, written for clarity.
#include <cmath>

#include "kernels/cpu/pool2d_window.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/pool2d_general.h"
#include "kernels/cuda/profile.h"

namespace stuckat::cuda {
namespace {

using cpu::PoolGeneralShape;

// The shape with the output sizes computed on the host (PoolGeneralShape's methods are host-only).
struct Dims {
  int64_t planes, h, w, kh, kw, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, dilation_h, dilation_w;
  int64_t ho, wo;
  bool count_include_pad;
};

Dims dims(const PoolGeneralShape& s) {
  return {s.n * s.c,    s.h,          s.w,       s.kh,      s.kw,        s.stride_h,
          s.stride_w,   s.pad_top,    s.pad_left, s.pad_bottom, s.pad_right, s.dilation_h,
          s.dilation_w, s.h_out(),    s.w_out(),  s.count_include_pad};
}

// The output index o whose window reads input coordinate i through tap t along one axis, or -1:
// o * stride - pad + t * dilation == i, 0 <= o < out.
__device__ inline int64_t reading_output(int64_t i, int64_t t, int64_t stride, int64_t pad, int64_t dilation,
                                         int64_t out) {
  const int64_t num = i + pad - t * dilation;
  if (num < 0 || num % stride != 0) return -1;
  const int64_t o = num / stride;
  return o < out ? o : -1;
}

// The CPU's AxisWindow: the taps of window o inside the input, [lo, hi), and the divisor's factor.
struct AxisWindow {
  int64_t lo, hi, count;
};

__device__ inline AxisWindow axis_window(int64_t o, int64_t in, int64_t k, int64_t stride, int64_t pad_begin,
                                         int64_t pad_end, bool count_include_pad) {
  const int64_t start = o * stride - pad_begin, end = start + k;
  const int64_t lo = start > 0 ? start : 0, hi = end < in ? end : in;
  const int64_t padded_end = end < in + pad_end ? end : in + pad_end;
  return {lo, hi, count_include_pad ? padded_end - start : hi - lo};
}

// Windows (dilation 1) along one axis that contain input coordinate i: [first, last], clipped to [0, out).
__device__ inline void covering(int64_t i, int64_t k, int64_t stride, int64_t pad, int64_t out, int64_t* first,
                                int64_t* last) {
  const int64_t lowest = i + pad - k + 1;  // o * stride >= lowest
  *first = lowest <= 0 ? 0 : (lowest + stride - 1) / stride;
  const int64_t highest = (i + pad) / stride;  // o * stride <= i + pad
  *last = highest < out - 1 ? highest : out - 1;
}

__global__ void max_forward_kernel(const float* x, float* y, int32_t* argmax, Dims s) {
  const int64_t o = global_index();
  if (o >= s.planes * s.ho * s.wo) return;
  const int64_t ox = o % s.wo, oy = o / s.wo % s.ho, p = o / (s.wo * s.ho);
  const float* xp = x + p * s.h * s.w;
  int64_t best = -1;  // no tap inside the input yet
  for (int64_t ky = 0; ky < s.kh; ++ky) {
    const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
    if (iy < 0 || iy >= s.h) continue;
    for (int64_t kx = 0; kx < s.kw; ++kx) {
      const int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
      if (ix < 0 || ix >= s.w) continue;
      const int64_t index = iy * s.w + ix;
      if (best < 0 || cpu::max_pool_takes(xp[index], xp[best])) best = index;
    }
  }
  y[o] = best < 0 ? -INFINITY : xp[best];
  if (argmax) argmax[o] = static_cast<int32_t>(best);
}

// The taps reading (iy, ix) are visited with ky and kx descending, i.e. their windows in
// row-major output order (each window reads an input cell through one tap at most).
__global__ void max_backward_kernel(const float* dy, const int32_t* argmax, float* dx, Dims s) {
  const int64_t i = global_index();
  if (i >= s.planes * s.h * s.w) return;
  const int64_t ix = i % s.w, iy = i / s.w % s.h, p = i / (s.w * s.h);
  const int32_t self = static_cast<int32_t>(iy * s.w + ix);
  const int64_t base = p * s.ho * s.wo;
  float sum = 0.0f;
  for (int64_t ky = s.kh - 1; ky >= 0; --ky) {
    const int64_t oy = reading_output(iy, ky, s.stride_h, s.pad_top, s.dilation_h, s.ho);
    if (oy < 0) continue;
    for (int64_t kx = s.kw - 1; kx >= 0; --kx) {
      const int64_t ox = reading_output(ix, kx, s.stride_w, s.pad_left, s.dilation_w, s.wo);
      if (ox < 0) continue;
      const int64_t o = base + oy * s.wo + ox;
      if (argmax[o] == self) sum += dy[o];
    }
  }
  dx[i] = sum;
}

__global__ void avg_forward_kernel(const float* x, float* y, Dims s) {
  const int64_t o = global_index();
  if (o >= s.planes * s.ho * s.wo) return;
  const int64_t ox = o % s.wo, oy = o / s.wo % s.ho, p = o / (s.wo * s.ho);
  const AxisWindow r = axis_window(oy, s.h, s.kh, s.stride_h, s.pad_top, s.pad_bottom, s.count_include_pad);
  const AxisWindow c = axis_window(ox, s.w, s.kw, s.stride_w, s.pad_left, s.pad_right, s.count_include_pad);
  const float* xp = x + p * s.h * s.w;
  float sum = 0.0f;
  for (int64_t iy = r.lo; iy < r.hi; ++iy)
    for (int64_t ix = c.lo; ix < c.hi; ++ix) sum += xp[iy * s.w + ix];
  y[o] = sum / static_cast<float>(r.count * c.count);
}

__global__ void avg_backward_kernel(const float* dy, float* dx, Dims s) {
  const int64_t i = global_index();
  if (i >= s.planes * s.h * s.w) return;
  const int64_t ix = i % s.w, iy = i / s.w % s.h, p = i / (s.w * s.h);
  int64_t y0, y1, x0, x1;
  covering(iy, s.kh, s.stride_h, s.pad_top, s.ho, &y0, &y1);
  covering(ix, s.kw, s.stride_w, s.pad_left, s.wo, &x0, &x1);
  const float* dyp = dy + p * s.ho * s.wo;
  float sum = 0.0f;
  for (int64_t oy = y0; oy <= y1; ++oy) {
    const AxisWindow r = axis_window(oy, s.h, s.kh, s.stride_h, s.pad_top, s.pad_bottom, s.count_include_pad);
    for (int64_t ox = x0; ox <= x1; ++ox) {
      const AxisWindow c = axis_window(ox, s.w, s.kw, s.stride_w, s.pad_left, s.pad_right, s.count_include_pad);
      sum += dyp[oy * s.wo + ox] / static_cast<float>(r.count * c.count);
    }
  }
  dx[i] = sum;
}

}  // namespace

void max_pool2d_general_forward(const float* x, float* y, int32_t* argmax, const PoolGeneralShape& s) {
  STUCKAT_GPU_PROFILE("max_pool_general.fwd");
  const Dims d = dims(s);
  const int64_t n = d.planes * d.ho * d.wo;
  if (n <= 0) return;
  max_forward_kernel<<<grid_for(n), kBlock>>>(x, y, argmax, d);
  CUDA_CHECK_LAUNCH();
}

void max_pool2d_general_backward(const float* dy, const int32_t* argmax, float* dx, const PoolGeneralShape& s) {
  STUCKAT_GPU_PROFILE("max_pool_general.bwd");
  const Dims d = dims(s);
  const int64_t n = d.planes * d.h * d.w;
  if (n <= 0) return;
  max_backward_kernel<<<grid_for(n), kBlock>>>(dy, argmax, dx, d);
  CUDA_CHECK_LAUNCH();
}

void avg_pool2d_general_forward(const float* x, float* y, const PoolGeneralShape& s) {
  STUCKAT_GPU_PROFILE("avg_pool_general.fwd");
  const Dims d = dims(s);
  const int64_t n = d.planes * d.ho * d.wo;
  if (n <= 0) return;
  avg_forward_kernel<<<grid_for(n), kBlock>>>(x, y, d);
  CUDA_CHECK_LAUNCH();
}

void avg_pool2d_general_backward(const float* dy, float* dx, const PoolGeneralShape& s) {
  STUCKAT_GPU_PROFILE("avg_pool_general.bwd");
  const Dims d = dims(s);
  const int64_t n = d.planes * d.h * d.w;
  if (n <= 0) return;
  avg_backward_kernel<<<grid_for(n), kBlock>>>(dy, dx, d);
  CUDA_CHECK_LAUNCH();
}

}  // namespace stuckat::cuda
