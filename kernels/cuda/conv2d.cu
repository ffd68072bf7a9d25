// conv2d as GEMMs over a batch-wide column matrix. With K = c_in*kh*kw and M = n*h_out*w_out,
//   col  (K, M):      col[(ci*kh + ky)*kw + kx][(ni*h_out + oy)*w_out + ox] = x at the tap (0 in the padding)
//   ycol (c_out, M) = w (c_out, K) * col, then permuted to y (n, c_out, h_out, w_out) with the bias
// Backward: dycol (c_out, M) = permuted dy; dw = dycol * col^T; db = row sums of dycol;
// dcol = w^T * dycol, and col2im gathers dcol back into dx (one thread per input element, no atomics).
// The column passes run on 2-D grids (y: the row of col or of ycol, x: the M positions), so a
// thread divides two to four times instead of eight: they are memory passes, and at one flat
// index per element the integer divisions kept them well under the memory bandwidth (on an
// H200, im2col took as long as the GEMM after it in ResNet-18).
// Forward with small K (K <= kDirectMaxK: LeNet's convolutions, a ResNet/VGG stem) is a direct
// convolution instead: one thread per output position computing kCoTile output channels from
// weights staged in shared memory. No column matrix, one launch; at K = 25 a GEMM of c_out = 6
// rows is all memory traffic for the column matrix (25x the input), which the direct kernel never
// writes.
#include <algorithm>
#include <cstdint>

#include "kernels/cuda/profile.h"
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

// Rows of col (or of ycol) are spread over grid.y and, past 65535 of them, a loop.
inline unsigned rows_grid(int64_t rows) { return static_cast<unsigned>(std::min<int64_t>(rows, 65535)); }

// grid (M / kBlock, rows): thread (c, row) writes col[row][c].
template <typename I>
__global__ void im2col_kernel(const float* x, float* col, Dims<I> d) {
  const I c = thread_index<I>();
  if (c >= d.m) return;
  const I ni = c / d.p, q = c - ni * d.p, oy = q / d.wo, ox = q - oy * d.wo;
  const float* xn = x + ni * d.c_in * d.h * d.w;
  for (I row = blockIdx.y; row < d.k; row += gridDim.y) {
    const I kx = row % d.kw, ky = row / d.kw % d.kh, ci = row / (d.kw * d.kh);  // the same for the whole block
    const I iy = oy * d.stride - d.pad + ky, ix = ox * d.stride - d.pad + kx;
    col[row * d.m + c] = iy >= 0 && iy < d.h && ix >= 0 && ix < d.w ? xn[(ci * d.h + iy) * d.w + ix] : 0.0f;
  }
}

// y[ni][co][q] = ycol[co][ni*p + q] + b[co]; grid (M / kBlock, c_out).
template <typename I>
__global__ void ycol_to_y_kernel(const float* ycol, const float* b, float* y, Dims<I> d) {
  const I c = thread_index<I>();
  if (c >= d.m) return;
  const I ni = c / d.p, q = c - ni * d.p;
  for (I co = blockIdx.y; co < d.c_out; co += gridDim.y) {
    const float v = ycol[co * d.m + c];
    y[(ni * d.c_out + co) * d.p + q] = b ? v + b[co] : v;
  }
}

// dycol[co][ni*p + q] = dy[ni][co][q]; grid (M / kBlock, c_out).
template <typename I>
__global__ void dy_to_dycol_kernel(const float* dy, float* dycol, Dims<I> d) {
  const I c = thread_index<I>();
  if (c >= d.m) return;
  const I ni = c / d.p, q = c - ni * d.p;
  for (I co = blockIdx.y; co < d.c_out; co += gridDim.y) dycol[co * d.m + c] = dy[(ni * d.c_out + co) * d.p + q];
}

constexpr int64_t kDirectMaxK = 256;
constexpr int kCoTile = 8;

// Direct convolution: grid (M / kBlock, ceil(c_out / kCoTile)); thread (c, tile) computes output
// position c for the tile's channels, summing taps in (ci, ky, kx) order, then adds the bias.
// Dynamic shared memory: kCoTile * K floats (the tile's filters, zero past c_out).
template <typename I>
__global__ void direct_conv_kernel(const float* x, const float* w, const float* b, float* y, Dims<I> d) {
  extern __shared__ float filters[];  // [t][k] = w[co0 + t][k]
  const I co0 = static_cast<I>(blockIdx.y) * kCoTile;
  const I tile = min(static_cast<I>(kCoTile), d.c_out - co0);
  for (I i = threadIdx.x; i < kCoTile * d.k; i += blockDim.x)
    filters[i] = i < tile * d.k ? w[co0 * d.k + i] : 0.0f;
  __syncthreads();
  const I c = thread_index<I>();
  if (c >= d.m) return;
  const I ni = c / d.p, q = c - ni * d.p, oy = q / d.wo, ox = q - oy * d.wo;
  const float* xn = x + ni * d.c_in * d.h * d.w;
  float acc[kCoTile];
#pragma unroll
  for (int t = 0; t < kCoTile; ++t) acc[t] = 0.0f;
  for (I ci = 0; ci < d.c_in; ++ci)
    for (I ky = 0; ky < d.kh; ++ky) {
      const I iy = oy * d.stride - d.pad + ky;
      if (iy < 0 || iy >= d.h) continue;
      for (I kx = 0; kx < d.kw; ++kx) {
        const I ix = ox * d.stride - d.pad + kx;
        if (ix < 0 || ix >= d.w) continue;
        const float v = xn[(ci * d.h + iy) * d.w + ix];
        const float* f = filters + (ci * d.kh + ky) * d.kw + kx;
#pragma unroll
        for (int t = 0; t < kCoTile; ++t) acc[t] = fmaf(v, f[t * d.k], acc[t]);
      }
    }
#pragma unroll
  for (int t = 0; t < kCoTile; ++t)  // constant indices keep acc in registers
    if (t < tile) y[(ni * d.c_out + co0 + t) * d.p + q] = b ? acc[t] + b[co0 + t] : acc[t];
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

template <typename I>
void forward_with(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s) {
  const Dims<I> d = dims_of<I>(s);
  const int64_t k = d.k, m = d.m, c_out = d.c_out;
  if (k <= kDirectMaxK) {
    STUCKAT_GPU_PROFILE("conv2d.direct");
    const dim3 grid(grid_for(m), static_cast<unsigned>((c_out + kCoTile - 1) / kCoTile));
    direct_conv_kernel<I><<<grid, kBlock, static_cast<size_t>(kCoTile * k) * sizeof(float)>>>(x, w, b, y, d);
    CUDA_CHECK_LAUNCH();
    return;
  }
  float* col = static_cast<float*>(scratch(static_cast<size_t>((k + c_out) * m) * sizeof(float)));
  float* ycol = col + k * m;
  {
    STUCKAT_GPU_PROFILE("conv2d.im2col");
    im2col_kernel<I><<<dim3(grid_for(m), rows_grid(k)), kBlock>>>(x, col, d);
    CUDA_CHECK_LAUNCH();
  }
  gemm_row_major(false, false, c_out, m, k, 1.0f, w, col, 0.0f, ycol);
  STUCKAT_GPU_PROFILE("conv2d.permute");
  ycol_to_y_kernel<I><<<dim3(grid_for(m), rows_grid(c_out)), kBlock>>>(ycol, b, y, d);
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
    STUCKAT_GPU_PROFILE("conv2d.bwd_im2col_and_dy");
    im2col_kernel<I><<<dim3(grid_for(m), rows_grid(k)), kBlock>>>(x, col, d);
    CUDA_CHECK_LAUNCH();
    dy_to_dycol_kernel<I><<<dim3(grid_for(m), rows_grid(c_out)), kBlock>>>(dy, dycol, d);
    CUDA_CHECK_LAUNCH();
  }
  // dw (c_out, K) = dycol (c_out, M) * col^T (M, K); with M == 0 cuBLAS writes zeros (beta = 0).
  gemm_row_major(false, true, c_out, k, m, 1.0f, dycol, col, 0.0f, dw);
  if (db) {
    STUCKAT_GPU_PROFILE("conv2d.bias_grad");
    row_sums_kernel<<<static_cast<unsigned>(c_out), kBlock>>>(dycol, db, m);
    CUDA_CHECK_LAUNCH();
  }
  if (dx && x_size > 0) {
    // dcol (K, M) = w^T (K, c_out) * dycol (c_out, M), into col: the dw GEMM before it (same
    // stream) has finished reading the columns.
    gemm_row_major(true, false, k, m, c_out, 1.0f, w, dycol, 0.0f, col);
    STUCKAT_GPU_PROFILE("conv2d.col2im");
    col2im_kernel<I><<<grid_for(x_size), kBlock>>>(col, dx, d);
    CUDA_CHECK_LAUNCH();
  }
}

bool fits_int32(const Conv2dShape& s) { return largest_index(s) < (int64_t{1} << 31) - 1; }

}  // namespace

void conv2d_forward(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s) {
  STUCKAT_GPU_PROFILE("conv2d.fwd");
  if (s.n * s.h_out() * s.w_out() * s.c_out == 0) return;
  if (fits_int32(s))
    forward_with<int32_t>(x, w, b, y, s);
  else
    forward_with<int64_t>(x, w, b, y, s);
}

void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                     const Conv2dShape& s) {
  STUCKAT_GPU_PROFILE("conv2d.bwd");
  if (s.c_out * s.c_in * s.kh * s.kw == 0) return;
  if (fits_int32(s))
    backward_with<int32_t>(x, w, dy, dx, dw, db, s);
  else
    backward_with<int64_t>(x, w, dy, dx, dw, db, s);
}

}  // namespace stuckat::cuda
