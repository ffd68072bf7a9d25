// Linear layer: three cuBLAS GEMMs (y = x W^T, dx = dy W, dW = dy^T x) plus bias kernels.
#include "kernels/cuda/profile.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gemm.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/linear.h"

namespace stuckat::cuda {
namespace {

// I: int32_t when n * out fits (a 32-bit remainder is a fraction of a 64-bit one on the GPU).
template <typename I>
__global__ void add_row_bias_kernel(float* y, const float* b, I total, I out) {
  const I i = thread_index<I>();
  if (i < total) y[i] += b[i % out];
}

// db[o] = sum over rows of dy[r][o]; one thread per column, rows in order.
__global__ void column_sums_kernel(const float* dy, float* db, int64_t n, int64_t out) {
  const int64_t o = global_index();
  if (o >= out) return;
  float sum = 0.0f;
  for (int64_t r = 0; r < n; ++r) sum += dy[r * out + o];
  db[o] = sum;
}

}  // namespace

void linear_forward(const float* x, const float* w, const float* b, float* y, const cpu::LinearShape& s) {
  STUCKAT_GPU_PROFILE("linear.fwd");
  if (s.n * s.out == 0) return;
  gemm_row_major(false, true, s.n, s.out, s.in, 1.0f, x, w, 0.0f, y);
  if (b) {
    const int64_t total = s.n * s.out;
    if (fits_int32(total))
      add_row_bias_kernel<int32_t><<<grid_for(total), kBlock>>>(y, b, static_cast<int32_t>(total),
                                                                static_cast<int32_t>(s.out));
    else
      add_row_bias_kernel<int64_t><<<grid_for(total), kBlock>>>(y, b, total, s.out);
    CUDA_CHECK_LAUNCH();
  }
}

void linear_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                     const cpu::LinearShape& s) {
  STUCKAT_GPU_PROFILE("linear.bwd");
  if (dx && s.n * s.in > 0) gemm_row_major(false, false, s.n, s.in, s.out, 1.0f, dy, w, 0.0f, dx);
  if (s.out * s.in > 0) gemm_row_major(true, false, s.out, s.in, s.n, 1.0f, dy, x, 0.0f, dw);
  if (db && s.out > 0) {
    column_sums_kernel<<<grid_for(s.out), kBlock>>>(dy, db, s.n, s.out);
    CUDA_CHECK_LAUNCH();
  }
}

}  // namespace stuckat::cuda
