// conv2d as GEMMs over a batch-wide column matrix. With K = c_in*kh*kw and M = n*h_out*w_out,
//   col  (K, M):      col[(ci*kh + ky)*kw + kx][(ni*h_out + oy)*w_out + ox] = x at the tap (0 in the padding)
//   ycol (c_out, M) = w (c_out, K) * col, then permuted to y (n, c_out, h_out, w_out) with the bias
// Backward: dycol (c_out, M) = permuted dy; dw = dycol * col^T; db = row sums of dycol;
// dcol = w^T * dycol, and col2im gathers dcol back into dx (one thread per input element, no atomics).
#include <algorithm>
#include <cstdint>

#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/scratch.h"

namespace stuckat::cuda {
namespace {

using cpu::Conv2dShape;

// Sizes and GEMM extents in the index type I: int32_t whenever every index fits (integer division
// is emulated on the GPU, and 64-bit division costs several times more than 32-bit), else int64_t.
template <typename I>
struct Dims {
  I n, c_in, h, w, c_out, kh, kw, stride, pad;
  I ho, wo, p, k, m;  // output plane, its size, GEMM depth K, GEMM width M
};

template <typename I>
Dims<I> dims_of(const Conv2dShape& s) {
  Dims<I> d;
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

// The largest index any kernel below forms.
int64_t largest_index(const Conv2dShape& s) {
  const int64_t m = s.n * s.h_out() * s.w_out(), k = s.c_in * s.kh * s.kw;
  return std::max({k * m, s.c_out * m, s.n * s.c_in * s.h * s.w, s.c_out * k}) + s.h + s.w + 2 * s.pad;
}

template <typename I>
__device__ inline I thread_index() {
  return static_cast<I>(static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x);
}

template <typename I>
__global__ void im2col_kernel(const float* x, float* col, Dims<I> d) {
  const I i = thread_index<I>();
  if (i >= d.k * d.m) return;
  const I row = i / d.m, c = i % d.m;
  const I kx = row % d.kw, ky = row / d.kw % d.kh, ci = row / (d.kw * d.kh);
  const I ni = c / d.p, ox = c % d.wo, oy = c / d.wo % d.ho;
  const I iy = oy * d.stride - d.pad + ky, ix = ox * d.stride - d.pad + kx;
  col[i] = iy >= 0 && iy < d.h && ix >= 0 && ix < d.w ? x[((ni * d.c_in + ci) * d.h + iy) * d.w + ix] : 0.0f;
}

// y[ni][co][q] = ycol[co][ni*p + q] + b[co]
template <typename I>
__global__ void ycol_to_y_kernel(const float* ycol, const float* b, float* y, Dims<I> d) {
  const I i = thread_index<I>();
  if (i >= d.c_out * d.m) return;
  const I q = i % d.p, co = i / d.p % d.c_out, ni = i / (d.p * d.c_out);
  const float v = ycol[co * d.m + ni * d.p + q];
  y[i] = b ? v + b[co] : v;
}

// dycol[co][ni*p + q] = dy[ni][co][q]
template <typename I>
__global__ void dy_to_dycol_kernel(const float* dy, float* dycol, Dims<I> d) {
  const I i = thread_index<I>();
  if (i >= d.c_out * d.m) return;
  const I q = i % d.p, co = i / d.p % d.c_out, ni = i / (d.p * d.c_out);
  dycol[co * d.m + ni * d.p + q] = dy[i];
}

// db[co] = sum of row co of dycol; one block per row.
__global__ void row_sums_kernel(const float* a, float* sums, int64_t cols) {
  const float* row = a + static_cast<int64_t>(blockIdx.x) * cols;
  float part = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) part += row[j];
  const float total = block_sum(part);
  if (threadIdx.x == 0) sums[blockIdx.x] = total;
}

template <typename I>
__global__ void col2im_kernel(const float* dcol, float* dx, Dims<I> d) {
  const I i = thread_index<I>();
  if (i >= d.n * d.c_in * d.h * d.w) return;
  const I ix = i % d.w, iy = i / d.w % d.h, ci = i / (d.w * d.h) % d.c_in, ni = i / (d.w * d.h * d.c_in);
  float sum = 0.0f;
  for (I ky = 0; ky < d.kh; ++ky) {
    const I ty = iy + d.pad - ky;  // = oy * stride for the output row that reads this tap
    if (ty < 0 || ty % d.stride != 0 || ty / d.stride >= d.ho) continue;
    const I oy = ty / d.stride;
    for (I kx = 0; kx < d.kw; ++kx) {
      const I tx = ix + d.pad - kx;
      if (tx < 0 || tx % d.stride != 0 || tx / d.stride >= d.wo) continue;
      const I ox = tx / d.stride;
      sum += dcol[((ci * d.kh + ky) * d.kw + kx) * d.m + ni * d.p + oy * d.wo + ox];
    }
  }
  dx[i] = sum;
}

template <typename I>
void forward_with(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s) {
  const Dims<I> d = dims_of<I>(s);
  const int64_t k = d.k, m = d.m, c_out = d.c_out;
  float* col = static_cast<float*>(scratch(static_cast<size_t>((k + c_out) * m) * sizeof(float)));
  float* ycol = col + k * m;
  im2col_kernel<I><<<grid_for(k * m), kBlock>>>(x, col, d);
  CUDA_CHECK_LAUNCH();
  gemm_row_major(false, false, c_out, m, k, 1.0f, w, col, 0.0f, ycol);
  ycol_to_y_kernel<I><<<grid_for(c_out * m), kBlock>>>(ycol, b, y, d);
  CUDA_CHECK_LAUNCH();
}

template <typename I>
void backward_with(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                   const Conv2dShape& s) {
  const Dims<I> d = dims_of<I>(s);
  const int64_t k = d.k, m = d.m, c_out = d.c_out, x_size = s.n * s.c_in * s.h * s.w;
  float* col = static_cast<float*>(scratch(static_cast<size_t>((k + c_out) * m) * sizeof(float)));
  float* dycol = col + k * m;
  if (m > 0) {
    im2col_kernel<I><<<grid_for(k * m), kBlock>>>(x, col, d);
    CUDA_CHECK_LAUNCH();
    dy_to_dycol_kernel<I><<<grid_for(c_out * m), kBlock>>>(dy, dycol, d);
    CUDA_CHECK_LAUNCH();
  }
  // dw (c_out, K) = dycol (c_out, M) * col^T (M, K); with M == 0 cuBLAS writes zeros (beta = 0).
  gemm_row_major(false, true, c_out, k, m, 1.0f, dycol, col, 0.0f, dw);
  if (db) {
    row_sums_kernel<<<static_cast<unsigned>(c_out), kBlock>>>(dycol, db, m);
    CUDA_CHECK_LAUNCH();
  }
  if (dx && x_size > 0) {
    // dcol (K, M) = w^T (K, c_out) * dycol (c_out, M), into col: the dw GEMM before it (same
    // stream) has finished reading the columns.
    gemm_row_major(true, false, k, m, c_out, 1.0f, w, dycol, 0.0f, col);
    col2im_kernel<I><<<grid_for(x_size), kBlock>>>(col, dx, d);
    CUDA_CHECK_LAUNCH();
  }
}

bool fits_int32(const Conv2dShape& s) { return largest_index(s) < (int64_t{1} << 31) - 1; }

}  // namespace

void conv2d_forward(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s) {
  if (s.n * s.h_out() * s.w_out() * s.c_out == 0) return;
  if (fits_int32(s))
    forward_with<int32_t>(x, w, b, y, s);
  else
    forward_with<int64_t>(x, w, b, y, s);
}

void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                     const Conv2dShape& s) {
  if (s.c_out * s.c_in * s.kh * s.kw == 0) return;
  if (fits_int32(s))
    backward_with<int32_t>(x, w, dy, dx, dw, db, s);
  else
    backward_with<int64_t>(x, w, dy, dx, dw, db, s);
}

}  // namespace stuckat::cuda
