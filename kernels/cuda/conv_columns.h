// The per-thread bodies of the conv2d column passes and of the direct convolution
// (kernels/cuda/conv2d.cu), as host/device functions: the kernels call them once per thread,
// and tests/test_conv_columns.cpp calls them for every thread on the CPU against plain loops,
// so the index arithmetic is checked without a GPU. With K = c_in*kh*kw, M = n*h_out*w_out:
//   col  (K, M):  col[(ci*kh + ky)*kw + kx][(ni*h_out + oy)*w_out + ox] = x at the tap (0 in the padding)
//   ycol (c_out, M), dycol (c_out, M): y and dy with the channel axis first.
// A thread works on one GEMM column c (one output position) and a run of rows, so its integer
// divisions (to split c into image, row and column) are paid once per run, not per element:
// with a division per index the passes were bound by integer arithmetic, not memory.
// Host code may include this header; it needs no CUDA headers.
#pragma once
#include <cmath>
#include <cstdint>

#include "base/host_device.h"
#include "kernels/cpu/conv2d.h"

namespace stuckat::cuda {

// Sizes and GEMM extents in the index type I: int32_t whenever every index fits (integer division
// is emulated on the GPU, and 64-bit division costs several times more than 32-bit), else int64_t.
template <typename I>
struct ConvDims {
  I n, c_in, h, w, c_out, kh, kw, stride, pad;
  I ho, wo, p, k, m;  // output plane, its size, GEMM depth K, GEMM width M
  // Optional, shaped like y: the forward writes y = addend + conv(x) (a fault sweep adds a
  // layer's clean output to its change where the change is written: one pass fewer).
  const float* addend = nullptr;
};

// What the forward writes at y[at] for the sum v (bias included).
template <typename I>
STUCKAT_HD inline float conv_output(const ConvDims<I>& d, I at, float v) {
  return d.addend ? d.addend[at] + v : v;
}

template <typename I>
ConvDims<I> conv_dims(const cpu::Conv2dShape& s) {
  ConvDims<I> d;
  d.n = static_cast<I>(s.n);
  d.c_in = static_cast<I>(s.c_in);
  d.h = static_cast<I>(s.h);
  d.w = static_cast<I>(s.w);
  d.c_out = static_cast<I>(s.c_out);
  d.kh = static_cast<I>(s.kh);
  d.kw = static_cast<I>(s.kw);
  d.stride = static_cast<I>(s.stride);
  d.pad = static_cast<I>(s.pad);
  d.ho = static_cast<I>(s.h_out());
  d.wo = static_cast<I>(s.w_out());
  d.p = d.ho * d.wo;
  d.k = d.c_in * d.kh * d.kw;
  d.m = d.n * d.p;
  return d;
}

// im2col, thread (c, ci): the kh*kw rows of input channel ci at column c.
template <typename I>
STUCKAT_HD inline void im2col_thread(const float* x, float* col, const ConvDims<I>& d, I c, I ci) {
  const I ni = c / d.p, q = c - ni * d.p, oy = q / d.wo, ox = q - oy * d.wo;
  const float* xc = x + (ni * d.c_in + ci) * d.h * d.w;
  float* out = col + ci * d.kh * d.kw * d.m + c;
  for (I ky = 0; ky < d.kh; ++ky) {
    const I iy = oy * d.stride - d.pad + ky;
    const bool row_inside = iy >= 0 && iy < d.h;
    for (I kx = 0; kx < d.kw; ++kx) {
      const I ix = ox * d.stride - d.pad + kx;
      out[(ky * d.kw + kx) * d.m] = row_inside && ix >= 0 && ix < d.w ? xc[iy * d.w + ix] : 0.0f;
    }
  }
}

// y[ni][co][q] = ycol[co][c] + b[co] for co in [co_begin, co_end), with c = ni*p + q.
template <typename I>
STUCKAT_HD inline void ycol_to_y_thread(const float* ycol, const float* b, float* y, const ConvDims<I>& d, I c,
                                        I co_begin, I co_end) {
  const I ni = c / d.p, q = c - ni * d.p;
  for (I co = co_begin; co < co_end; ++co) {
    const float v = ycol[co * d.m + c];
    const I at = (ni * d.c_out + co) * d.p + q;
    y[at] = conv_output(d, at, b ? v + b[co] : v);
  }
}

// dycol[co][c] = dy[ni][co][q] for co in [co_begin, co_end), with c = ni*p + q.
template <typename I>
STUCKAT_HD inline void dy_to_dycol_thread(const float* dy, float* dycol, const ConvDims<I>& d, I c, I co_begin,
                                          I co_end) {
  const I ni = c / d.p, q = c - ni * d.p;
  for (I co = co_begin; co < co_end; ++co) dycol[co * d.m + c] = dy[(ni * d.c_out + co) * d.p + q];
}

// col2im, thread i (one input element): dx[i] = the sum of the column entries that read it.
template <typename I>
STUCKAT_HD inline void col2im_thread(const float* dcol, float* dx, const ConvDims<I>& d, I i) {
  const I plane = i / (d.h * d.w), pixel = i - plane * (d.h * d.w);
  const I ni = plane / d.c_in, ci = plane - ni * d.c_in, iy = pixel / d.w, ix = pixel - iy * d.w;
  const float* base = dcol + ci * d.kh * d.kw * d.m + ni * d.p;
  float sum = 0.0f;
  for (I ky = 0; ky < d.kh; ++ky) {
    I oy = iy + d.pad - ky;  // = oy * stride for the output row that reads this tap
    if (oy < 0) continue;
    if (d.stride != 1) {  // the same branch for every thread
      if (oy % d.stride != 0) continue;
      oy /= d.stride;
    }
    if (oy >= d.ho) continue;
    for (I kx = 0; kx < d.kw; ++kx) {
      I ox = ix + d.pad - kx;
      if (ox < 0) continue;
      if (d.stride != 1) {
        if (ox % d.stride != 0) continue;
        ox /= d.stride;
      }
      if (ox >= d.wo) continue;
      sum += base[(ky * d.kw + kx) * d.m + oy * d.wo + ox];
    }
  }
  dx[i] = sum;
}

// Direct convolution: output channels per thread, and the filter layout it reads.
constexpr int kCoTile = 8;  // tap_weights reads a tap's weights as two float4 on the GPU

// Filters of the tile starting at output channel co0, tap-major: tile[k * kCoTile + t] =
// w[co0 + t][k] (zero past c_out), so one tap's kCoTile weights are adjacent (one 32-byte read).
template <typename I>
STUCKAT_HD inline void load_filter_tile(const float* w, float* tile, const ConvDims<I>& d, I co0, I i) {
  const I k = i / kCoTile, t = i - k * kCoTile;
  tile[i] = co0 + t < d.c_out ? w[(co0 + t) * d.k + k] : 0.0f;
}

// One tap's kCoTile weights from a tile. On the GPU: two 16-byte shared-memory reads instead of
// eight 4-byte ones (the kernels' tile is 16-byte aligned and a tap's weights start at a
// multiple of 32 bytes).
STUCKAT_HD inline void tap_weights(const float* f, float* g) {
#ifdef __CUDA_ARCH__
  const float4 lo = *reinterpret_cast<const float4*>(f), hi = *reinterpret_cast<const float4*>(f + 4);
  g[0] = lo.x, g[1] = lo.y, g[2] = lo.z, g[3] = lo.w, g[4] = hi.x, g[5] = hi.y, g[6] = hi.z, g[7] = hi.w;
#else
  for (int t = 0; t < kCoTile; ++t) g[t] = f[t];
#endif
}

// Direct convolution, thread (c, tile at co0): output position c for the tile's channels, taps
// summed in (ci, ky, kx) order, then the bias. `tile` as load_filter_tile writes it. KH, KW > 0
// fix the kernel size at compile time (the tap loops unroll and their index arithmetic folds into
// constants); 0 reads it from d. Either way the result is the same, bit for bit.
template <typename I, int KH = 0, int KW = 0>
STUCKAT_HD inline void direct_conv_thread(const float* x, const float* tile, const float* b, float* y,
                                          const ConvDims<I>& d, I c, I co0) {
  const I kh = KH > 0 ? static_cast<I>(KH) : d.kh, kw = KW > 0 ? static_cast<I>(KW) : d.kw;
  const I ni = c / d.p, q = c - ni * d.p, oy = q / d.wo, ox = q - oy * d.wo;
  const I iy0 = oy * d.stride - d.pad, ix0 = ox * d.stride - d.pad;
  const float* xn = x + ni * d.c_in * d.h * d.w;
  float acc[kCoTile];
  for (int t = 0; t < kCoTile; ++t) acc[t] = 0.0f;
  for (I ci = 0; ci < d.c_in; ++ci) {
    const float* xc = xn + ci * d.h * d.w;
    const float* fc = tile + ci * kh * kw * kCoTile;
STUCKAT_UNROLL
    for (I ky = 0; ky < kh; ++ky) {
      const I iy = iy0 + ky;
      if (iy < 0 || iy >= d.h) continue;
STUCKAT_UNROLL
      for (I kx = 0; kx < kw; ++kx) {
        const I ix = ix0 + kx;
        if (ix < 0 || ix >= d.w) continue;
        const float v = xc[iy * d.w + ix];
        const float* f = fc + (ky * kw + kx) * kCoTile;
        float g[kCoTile];
        tap_weights(f, g);
STUCKAT_UNROLL
        for (int t = 0; t < kCoTile; ++t) acc[t] = fmaf(v, g[t], acc[t]);
      }
    }
  }
STUCKAT_UNROLL
  for (int t = 0; t < kCoTile; ++t)  // constant indices keep acc in registers
    if (co0 + t < d.c_out) {
      const I at = (ni * d.c_out + co0 + t) * d.p + q;
      y[at] = conv_output(d, at, b ? acc[t] + b[co0 + t] : acc[t]);
    }
}

// Stride-1 direct convolution with kPos neighbouring outputs per thread: thread (c4, tile at co0)
// computes positions ox0 .. ox0 + kPos - 1 of row oy of image ni, c4 = (ni * h_out + oy) *
// ceil(w_out / kPos) + ox0 / kPos. Per (input channel, kernel row) it loads the KW + kPos - 1
// inputs the kPos windows share once, and each tap's weights once for all kPos outputs. The sums
// run in the same (ci, ky, kx) order as direct_conv_thread: the same bits.
constexpr int kPos = 4;

template <typename I, int KH, int KW>
STUCKAT_HD inline void direct_conv_row_thread(const float* x, const float* tile, const float* b, float* y,
                                              const ConvDims<I>& d, I c4, I co0) {
  const I quads = (d.wo + kPos - 1) / kPos;
  const I row = c4 / quads, ox0 = (c4 - row * quads) * kPos, ni = row / d.ho, oy = row - ni * d.ho;
  const I iy0 = oy - d.pad, ix0 = ox0 - d.pad;
  const float* xn = x + ni * d.c_in * d.h * d.w;
  float acc[kPos][kCoTile];
STUCKAT_UNROLL
  for (int j = 0; j < kPos; ++j)
STUCKAT_UNROLL
    for (int t = 0; t < kCoTile; ++t) acc[j][t] = 0.0f;
  for (I ci = 0; ci < d.c_in; ++ci) {
    const float* xc = xn + ci * d.h * d.w;
    const float* fc = tile + ci * KH * KW * kCoTile;
STUCKAT_UNROLL
    for (int ky = 0; ky < KH; ++ky) {
      const I iy = iy0 + ky;
      if (iy < 0 || iy >= d.h) continue;
      float xr[KW + kPos - 1];  // the inputs of this kernel row for all kPos windows, 0 outside
STUCKAT_UNROLL
      for (int u = 0; u < KW + kPos - 1; ++u) {
        const I ix = ix0 + u;
        xr[u] = ix >= 0 && ix < d.w ? xc[iy * d.w + ix] : 0.0f;
      }
STUCKAT_UNROLL
      for (int kx = 0; kx < KW; ++kx) {
        const float* f = fc + (ky * KW + kx) * kCoTile;
        float g[kCoTile];
        tap_weights(f, g);
STUCKAT_UNROLL
        for (int j = 0; j < kPos; ++j) {
          // A padded tap adds nothing in direct_conv_thread; skip it here too, so the sums match
          // bit for bit (adding v * w with v = 0 could turn -0 into +0).
          const I ix = ix0 + j + kx;
          if (ix < 0 || ix >= d.w) continue;
STUCKAT_UNROLL
          for (int t = 0; t < kCoTile; ++t) acc[j][t] = fmaf(xr[j + kx], g[t], acc[j][t]);
        }
      }
    }
  }
STUCKAT_UNROLL
  for (int j = 0; j < kPos; ++j) {
    if (ox0 + j >= d.wo) break;
STUCKAT_UNROLL
    for (int t = 0; t < kCoTile; ++t)
      if (co0 + t < d.c_out) {
        const I at = (ni * d.c_out + co0 + t) * d.p + oy * d.wo + ox0 + j;
        y[at] = conv_output(d, at, b ? acc[j][t] + b[co0 + t] : acc[j][t]);
      }
  }
}

}  // namespace stuckat::cuda
