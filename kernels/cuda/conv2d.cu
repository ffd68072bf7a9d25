// conv2d as GEMMs over a batch-wide column matrix (layouts in kernels/cuda/conv_columns.h):
//   col (K, M) = im2col(x); ycol (c_out, M) = w (c_out, K) * col, permuted to y with the bias.
// Backward: dycol (c_out, M) = permuted dy; dw = dycol * col^T; db = row sums of dycol;
// dcol = w^T * dycol, and col2im gathers dcol back into dx (one thread per input element, no atomics).
// Forward with small K and many positions (K <= kDirectMaxK, M >= kDirectMinM: LeNet's
// convolutions in a sweep's 10k-image batches, a ResNet/VGG stem at batch 128) is a direct
// convolution instead: one thread per output position computing kCoTile output channels from
// weights staged in shared memory. No column matrix, one launch; at K = 25 a GEMM of c_out = 6
// rows is all memory traffic for the column matrix (25x the input), which the direct kernel never
// writes. The per-thread bodies live in conv_columns.h, where a CPU test checks them.
#include <algorithm>
#include <cstdint>

#include "kernels/cuda/profile.h"
#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/conv_columns.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/scratch.h"

namespace stuckat::cuda {
namespace {

using cpu::Conv2dShape;

template <typename I>
using Dims = ConvDims<I>;

// The largest index any kernel below forms.
int64_t largest_index(const Conv2dShape& s) {
  const int64_t m = s.n * s.h_out() * s.w_out(), k = s.c_in * s.kh * s.kw;
  return std::max({k * m, s.c_out * m, s.n * s.c_in * s.h * s.w, s.c_out * k}) + s.h + s.w + 2 * s.pad;
}

// grid.y spreads input channels (im2col) or runs of kChannelRun output channels (the
// permutes); past 65535 a block loops.
inline unsigned grid_y(int64_t count) { return static_cast<unsigned>(std::min<int64_t>(count, 65535)); }
constexpr int64_t kChannelRun = 8;

// grid (M / kBlock, c_in): thread (c, ci) writes the kh*kw rows of channel ci at column c.
template <typename I>
__global__ void im2col_kernel(const float* x, float* col, Dims<I> d) {
  const I c = thread_index<I>();
  if (c >= d.m) return;
  for (I ci = blockIdx.y; ci < d.c_in; ci += gridDim.y) im2col_thread<I>(x, col, d, c, ci);
}

// grid (M / kBlock, c_out / kChannelRun).
template <typename I>
__global__ void ycol_to_y_kernel(const float* ycol, const float* b, float* y, Dims<I> d) {
  const I c = thread_index<I>();
  if (c >= d.m) return;
  for (I co = static_cast<I>(blockIdx.y) * kChannelRun; co < d.c_out; co += static_cast<I>(gridDim.y) * kChannelRun)
    ycol_to_y_thread<I>(ycol, b, y, d, c, co, co + kChannelRun < d.c_out ? co + kChannelRun : d.c_out);
}

// grid (M / kBlock, c_out / kChannelRun).
template <typename I>
__global__ void dy_to_dycol_kernel(const float* dy, float* dycol, Dims<I> d) {
  const I c = thread_index<I>();
  if (c >= d.m) return;
  for (I co = static_cast<I>(blockIdx.y) * kChannelRun; co < d.c_out; co += static_cast<I>(gridDim.y) * kChannelRun)
    dy_to_dycol_thread<I>(dy, dycol, d, c, co, co + kChannelRun < d.c_out ? co + kChannelRun : d.c_out);
}

constexpr int64_t kDirectMaxK = 256;
// ...and at least this many output positions. Below it the direct kernel has too few threads to
// hide its long per-thread sums: LeNet-5 training at batch 64 (M = 50176 and 6400) ran at 147k
// images/s on an H200 through columns + GEMM and 115k through the direct kernel (one run each).
constexpr int64_t kDirectMinM = 65536;

// grid (M / kBlock, c_out / kCoTile); dynamic shared memory: kCoTile * K floats (the tile's
// filters, tap-major, as load_filter_tile writes them). KH, KW: see direct_conv_thread.
template <typename I, int KH, int KW>
__global__ void direct_conv_kernel(const float* x, const float* w, const float* b, float* y, Dims<I> d) {
  extern __shared__ float4 tile_storage[];  // float4: 16-byte aligned for direct_conv_thread's reads
  float* tile = reinterpret_cast<float*>(tile_storage);
  const I co0 = static_cast<I>(blockIdx.y) * kCoTile;
  for (I i = threadIdx.x; i < kCoTile * d.k; i += blockDim.x) load_filter_tile<I>(w, tile, d, co0, i);
  __syncthreads();
  const I c = thread_index<I>();
  if (c >= d.m) return;
  direct_conv_thread<I, KH, KW>(x, tile, b, y, d, c, co0);
}

// Stride 1, KH x KW fixed: kPos outputs of a row per thread (direct_conv_row_thread); grid
// (rows * ceil(w_out / kPos) / kBlock, c_out / kCoTile).
template <typename I, int KH, int KW>
__global__ void direct_conv_row_kernel(const float* x, const float* w, const float* b, float* y, Dims<I> d) {
  extern __shared__ float4 tile_storage[];
  float* tile = reinterpret_cast<float*>(tile_storage);
  const I co0 = static_cast<I>(blockIdx.y) * kCoTile;
  for (I i = threadIdx.x; i < kCoTile * d.k; i += blockDim.x) load_filter_tile<I>(w, tile, d, co0, i);
  __syncthreads();
  const I c4 = thread_index<I>();
  if (c4 >= d.n * d.ho * ((d.wo + kPos - 1) / kPos)) return;
  direct_conv_row_thread<I, KH, KW>(x, tile, b, y, d, c4, co0);
}

// The direct kernels: stride-1 3x3 and 5x5 with kPos outputs per thread, other sizes one output
// per thread (3x3 and 5x5 compiled in, else read at run time).
template <typename I>
void launch_direct_conv(const float* x, const float* w, const float* b, float* y, const Dims<I>& d) {
  const unsigned tiles = static_cast<unsigned>((d.c_out + kCoTile - 1) / kCoTile);
  const size_t shared = static_cast<size_t>(kCoTile * d.k) * sizeof(float);
  const dim3 rows_grid(grid_for(d.n * d.ho * ((d.wo + kPos - 1) / kPos)), tiles), grid(grid_for(d.m), tiles);
  if (d.stride == 1 && d.kh == 3 && d.kw == 3)
    direct_conv_row_kernel<I, 3, 3><<<rows_grid, kBlock, shared>>>(x, w, b, y, d);
  else if (d.stride == 1 && d.kh == 5 && d.kw == 5)
    direct_conv_row_kernel<I, 5, 5><<<rows_grid, kBlock, shared>>>(x, w, b, y, d);
  else if (d.kh == 3 && d.kw == 3)
    direct_conv_kernel<I, 3, 3><<<grid, kBlock, shared>>>(x, w, b, y, d);
  else if (d.kh == 5 && d.kw == 5)
    direct_conv_kernel<I, 5, 5><<<grid, kBlock, shared>>>(x, w, b, y, d);
  else
    direct_conv_kernel<I, 0, 0><<<grid, kBlock, shared>>>(x, w, b, y, d);
  CUDA_CHECK_LAUNCH();
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
  if (i < d.n * d.c_in * d.h * d.w) col2im_thread<I>(dcol, dx, d, i);
}

template <typename I>
void forward_with(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s, const float* addend) {
  Dims<I> d = conv_dims<I>(s);
  d.addend = addend;
  const int64_t k = d.k, m = d.m, c_out = d.c_out;
  if (k <= kDirectMaxK && m >= kDirectMinM) {
    STUCKAT_GPU_PROFILE("conv2d.direct");
    launch_direct_conv<I>(x, w, b, y, d);
    return;
  }
  float* col = static_cast<float*>(scratch(static_cast<size_t>((k + c_out) * m) * sizeof(float)));
  float* ycol = col + k * m;
  {
    STUCKAT_GPU_PROFILE("conv2d.im2col");
    im2col_kernel<I><<<dim3(grid_for(m), grid_y(s.c_in)), kBlock>>>(x, col, d);
    CUDA_CHECK_LAUNCH();
  }
  gemm_row_major(false, false, c_out, m, k, 1.0f, w, col, 0.0f, ycol);
  STUCKAT_GPU_PROFILE("conv2d.permute");
  ycol_to_y_kernel<I><<<dim3(grid_for(m), grid_y((c_out + kChannelRun - 1) / kChannelRun)), kBlock>>>(ycol, b, y, d);
  CUDA_CHECK_LAUNCH();
}

template <typename I>
void backward_with(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                   const Conv2dShape& s) {
  const Dims<I> d = conv_dims<I>(s);
  const int64_t k = d.k, m = d.m, c_out = d.c_out, x_size = s.n * s.c_in * s.h * s.w;
  float* col = static_cast<float*>(scratch(static_cast<size_t>((k + c_out) * m) * sizeof(float)));
  float* dycol = col + k * m;
  if (m > 0) {
    STUCKAT_GPU_PROFILE("conv2d.bwd_im2col_and_dy");
    im2col_kernel<I><<<dim3(grid_for(m), grid_y(s.c_in)), kBlock>>>(x, col, d);
    CUDA_CHECK_LAUNCH();
    dy_to_dycol_kernel<I><<<dim3(grid_for(m), grid_y((c_out + kChannelRun - 1) / kChannelRun)), kBlock>>>(dy, dycol, d);
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

bool shape_fits_int32(const Conv2dShape& s) { return fits_int32(largest_index(s)); }

}  // namespace

void conv2d_forward(const float* x, const float* w, const float* b, float* y, const Conv2dShape& s,
                    const float* addend) {
  STUCKAT_GPU_PROFILE("conv2d.fwd");
  if (s.n * s.h_out() * s.w_out() * s.c_out == 0) return;
  if (shape_fits_int32(s))
    forward_with<int32_t>(x, w, b, y, s, addend);
  else
    forward_with<int64_t>(x, w, b, y, s, addend);
}

void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                     const Conv2dShape& s) {
  STUCKAT_GPU_PROFILE("conv2d.bwd");
  if (s.c_out * s.c_in * s.kh * s.kw == 0) return;
  if (shape_fits_int32(s))
    backward_with<int32_t>(x, w, dy, dx, dw, db, s);
  else
    backward_with<int64_t>(x, w, dy, dx, dw, db, s);
}

}  // namespace stuckat::cuda
