// ONNX-general conv2d kernels: one thread per element written, plain loops in a fixed order
// (kernels/cuda/conv2d_general.h). Written for clarity, not speed: 64-bit indices throughout.
#include "kernels/cuda/conv2d_general.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/profile.h"

namespace stuckat::cuda {
namespace {

using cpu::ConvGeneralShape;

// The shape with the derived sizes computed on the host (ConvGeneralShape's methods are host-only).
struct Dims {
  int64_t n, c_in, h, w, c_out, kh, kw;
  int64_t stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w;
  int64_t ho, wo, cig, cog;
};

Dims dims(const ConvGeneralShape& s) {
  return {s.n,        s.c_in,     s.h,        s.w,          s.c_out,      s.kh,      s.kw,          s.stride_h,
          s.stride_w, s.pad_top,  s.pad_left, s.dilation_h, s.dilation_w, s.h_out(), s.w_out(), s.c_in_group(),
          s.c_out_group()};
}

// The output index o that reads input coordinate i through tap t along one axis, or -1:
// o * stride - pad + t * dilation == i, 0 <= o < out.
__device__ inline int64_t reading_output(int64_t i, int64_t t, int64_t stride, int64_t pad, int64_t dilation,
                                         int64_t out) {
  const int64_t num = i + pad - t * dilation;
  if (num < 0 || num % stride != 0) return -1;
  const int64_t o = num / stride;
  return o < out ? o : -1;
}

__global__ void forward_kernel(const float* x, const float* w, const float* b, float* y, Dims s) {
  const int64_t o = global_index();
  if (o >= s.n * s.c_out * s.ho * s.wo) return;
  const int64_t ox = o % s.wo, oy = o / s.wo % s.ho, co = o / (s.wo * s.ho) % s.c_out, n = o / (s.wo * s.ho * s.c_out);
  const int64_t first_ci = (co / s.cog) * s.cig;
  float acc = b ? b[co] : 0.0f;
  for (int64_t ci = 0; ci < s.cig; ++ci)
    for (int64_t ky = 0; ky < s.kh; ++ky) {
      const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
      if (iy < 0 || iy >= s.h) continue;
      for (int64_t kx = 0; kx < s.kw; ++kx) {
        const int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
        if (ix < 0 || ix >= s.w) continue;
        acc += x[((n * s.c_in + first_ci + ci) * s.h + iy) * s.w + ix] * w[((co * s.cig + ci) * s.kh + ky) * s.kw + kx];
      }
    }
  y[o] = acc;
}

__global__ void dx_kernel(const float* w, const float* dy, float* dx, Dims s) {
  const int64_t i = global_index();
  if (i >= s.n * s.c_in * s.h * s.w) return;
  const int64_t ix = i % s.w, iy = i / s.w % s.h, c = i / (s.w * s.h) % s.c_in, n = i / (s.w * s.h * s.c_in);
  const int64_t g = c / s.cig, ci = c - g * s.cig;
  float acc = 0.0f;
  for (int64_t co = g * s.cog; co < (g + 1) * s.cog; ++co)
    for (int64_t ky = 0; ky < s.kh; ++ky) {
      const int64_t oy = reading_output(iy, ky, s.stride_h, s.pad_top, s.dilation_h, s.ho);
      if (oy < 0) continue;
      for (int64_t kx = 0; kx < s.kw; ++kx) {
        const int64_t ox = reading_output(ix, kx, s.stride_w, s.pad_left, s.dilation_w, s.wo);
        if (ox < 0) continue;
        acc += dy[((n * s.c_out + co) * s.ho + oy) * s.wo + ox] * w[((co * s.cig + ci) * s.kh + ky) * s.kw + kx];
      }
    }
  dx[i] = acc;
}

__global__ void dw_kernel(const float* x, const float* dy, float* dw, Dims s) {
  const int64_t j = global_index();
  if (j >= s.c_out * s.cig * s.kh * s.kw) return;
  const int64_t kx = j % s.kw, ky = j / s.kw % s.kh, ci = j / (s.kw * s.kh) % s.cig, co = j / (s.kw * s.kh * s.cig);
  const int64_t c = (co / s.cog) * s.cig + ci;
  float acc = 0.0f;
  for (int64_t n = 0; n < s.n; ++n) {
    const float* xp = x + (n * s.c_in + c) * s.h * s.w;
    const float* dyp = dy + (n * s.c_out + co) * s.ho * s.wo;
    for (int64_t oy = 0; oy < s.ho; ++oy) {
      const int64_t iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
      if (iy < 0 || iy >= s.h) continue;
      for (int64_t ox = 0; ox < s.wo; ++ox) {
        const int64_t ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
        if (ix < 0 || ix >= s.w) continue;
        acc += dyp[oy * s.wo + ox] * xp[iy * s.w + ix];
      }
    }
  }
  dw[j] = acc;
}

__global__ void db_kernel(const float* dy, float* db, Dims s) {
  const int64_t co = global_index();
  if (co >= s.c_out) return;
  float acc = 0.0f;
  for (int64_t n = 0; n < s.n; ++n) {
    const float* dyp = dy + (n * s.c_out + co) * s.ho * s.wo;
    for (int64_t q = 0; q < s.ho * s.wo; ++q) acc += dyp[q];
  }
  db[co] = acc;
}

}  // namespace

void conv2d_general_forward(const float* x, const float* w, const float* b, float* y, const ConvGeneralShape& s) {
  STUCKAT_GPU_PROFILE("conv2d_general.fwd");
  const Dims d = dims(s);
  const int64_t total = d.n * d.c_out * d.ho * d.wo;
  if (total == 0) return;
  forward_kernel<<<grid_for(total), kBlock>>>(x, w, b, y, d);
  CUDA_CHECK_LAUNCH();
}

void conv2d_general_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                             const ConvGeneralShape& s) {
  STUCKAT_GPU_PROFILE("conv2d_general.bwd");
  const Dims d = dims(s);
  const int64_t inputs = d.n * d.c_in * d.h * d.w, weights = d.c_out * d.cig * d.kh * d.kw;
  if (dx && inputs > 0) {
    dx_kernel<<<grid_for(inputs), kBlock>>>(w, dy, dx, d);
    CUDA_CHECK_LAUNCH();
  }
  if (weights > 0) {
    dw_kernel<<<grid_for(weights), kBlock>>>(x, dy, dw, d);
    CUDA_CHECK_LAUNCH();
  }
  if (db && d.c_out > 0) {
    db_kernel<<<grid_for(d.c_out), kBlock>>>(dy, db, d);
    CUDA_CHECK_LAUNCH();
  }
}

}  // namespace stuckat::cuda
