// Batch-norm kernels. Per-channel sums are split over several blocks per channel (a channel of a
// 32x32 layer at batch 128 holds 131072 values; one block each would leave most of the GPU
// idle): each block writes its partial sum, and one thread per channel adds the partials in
// split order, so results do not depend on scheduling. The per-element passes (normalise, dx)
// are one thread per element. Formulas as in kernels/cpu/batch_norm_ref.cpp: two passes (mean,
// then squared deviations), biased variance to normalise, unbiased for the running variance.
#include <algorithm>

#include "kernels/cuda/profile.h"
#include "kernels/cuda/batch_norm.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/scratch.h"

namespace stuckat::cuda {
namespace {

using cpu::BatchNormShape;

// Channel of element `at` of x (n, c, hw). 32-bit division: the host checks sizes < 2^32
// (64-bit integer division costs several times more on the GPU).
__device__ inline uint32_t channel_of(uint32_t at, const BatchNormShape& s) {
  return at / static_cast<uint32_t>(s.hw) % static_cast<uint32_t>(s.c);
}

// Offset of the j-th value of channel c, j in [0, n*hw).
__device__ inline uint32_t channel_at(uint32_t j, uint32_t c, const BatchNormShape& s) {
  const uint32_t hw = static_cast<uint32_t>(s.hw);
  return (j / hw * static_cast<uint32_t>(s.c) + c) * hw + j % hw;
}

struct Split {
  uint32_t parts, chunk;  // blocks per channel, values per block
};

// Enough blocks in all to fill the GPU several times over, each with at least a few values per
// thread.
Split split_for(const BatchNormShape& s) {
  const int64_t count = s.n * s.hw;
  const int64_t by_size = (count + 4 * kBlock - 1) / (4 * kBlock);
  const int64_t by_grid = std::max<int64_t>(1, 1024 / std::max<int64_t>(1, s.c));
  const int64_t parts = std::max<int64_t>(1, std::min({by_size, by_grid, int64_t{1024}}));
  return {static_cast<uint32_t>(parts), static_cast<uint32_t>((count + parts - 1) / parts)};
}

// partial[c][part] = sum over this block's values of x (mean == null) or of (x - mean[c])^2.
__global__ void partial_sums_kernel(const float* x, const float* mean, float* partial, BatchNormShape s, Split sp) {
  const uint32_t c = blockIdx.y, part = blockIdx.x, count = static_cast<uint32_t>(s.n * s.hw);
  const uint32_t begin = part * sp.chunk, end = min(count, begin + sp.chunk);
  const float m = mean ? mean[c] : 0.0f;
  float acc = 0.0f;
  for (uint32_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    const float v = x[channel_at(j, c, s)];
    if (mean) {
      const float d = v - m;
      acc += d * d;
    } else {
      acc += v;
    }
  }
  const float total = block_sum(acc);
  if (threadIdx.x == 0) partial[c * sp.parts + part] = total;
}

__global__ void finish_mean_kernel(const float* partial, float* save_mean, BatchNormShape s, Split sp) {
  const int64_t c = global_index();
  if (c >= s.c) return;
  float sum = 0.0f;
  for (uint32_t p = 0; p < sp.parts; ++p) sum += partial[c * sp.parts + p];
  save_mean[c] = sum / static_cast<float>(s.n * s.hw);
}

__global__ void finish_var_kernel(const float* partial, const float* save_mean, float* save_invstd,
                                  float* running_mean, float* running_var, float momentum, float eps,
                                  BatchNormShape s, Split sp) {
  const int64_t c = global_index();
  if (c >= s.c) return;
  float squares = 0.0f;
  for (uint32_t p = 0; p < sp.parts; ++p) squares += partial[c * sp.parts + p];
  const int64_t count = s.n * s.hw;
  const float var = squares / static_cast<float>(count);  // biased: what the batch is normalised with
  save_invstd[c] = 1.0f / sqrtf(var + eps);
  const float unbiased = squares / static_cast<float>(count - 1);
  running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * save_mean[c];
  running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased;
}

__global__ void normalize_kernel(const float* x, const float* gamma, const float* beta, const float* mean,
                                 const float* invstd, float* y, BatchNormShape s) {
  const int64_t at = global_index();
  if (at >= s.n * s.c * s.hw) return;
  const uint32_t c = channel_of(static_cast<uint32_t>(at), s);
  y[at] = (x[at] - mean[c]) * invstd[c] * gamma[c] + beta[c];
}

__global__ void eval_kernel(const float* x, const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, float eps, float* y, BatchNormShape s) {
  const int64_t at = global_index();
  if (at >= s.n * s.c * s.hw) return;
  const uint32_t c = channel_of(static_cast<uint32_t>(at), s);
  y[at] = (x[at] - running_mean[c]) / sqrtf(running_var[c] + eps) * gamma[c] + beta[c];
}

// partial[c][part] = (sum dy, sum dy * xhat) over this block's values.
__global__ void backward_partials_kernel(const float* x, const float* dy, const float* mean, const float* invstd,
                                         float2* partial, BatchNormShape s, Split sp) {
  const uint32_t c = blockIdx.y, part = blockIdx.x, count = static_cast<uint32_t>(s.n * s.hw);
  const uint32_t begin = part * sp.chunk, end = min(count, begin + sp.chunk);
  const float m = mean[c], is = invstd[c];
  float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
  for (uint32_t j = begin + threadIdx.x; j < end; j += blockDim.x) {
    const uint32_t at = channel_at(j, c, s);
    sum_dy += dy[at];
    sum_dy_xhat += dy[at] * (x[at] - m) * is;
  }
  const float a = block_sum(sum_dy);
  const float b = block_sum(sum_dy_xhat);
  if (threadIdx.x == 0) partial[c * sp.parts + part] = make_float2(a, b);
}

__global__ void backward_finish_kernel(const float2* partial, float* dgamma, float* dbeta, BatchNormShape s,
                                       Split sp) {
  const int64_t c = global_index();
  if (c >= s.c) return;
  float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
  for (uint32_t p = 0; p < sp.parts; ++p) {
    sum_dy += partial[c * sp.parts + p].x;
    sum_dy_xhat += partial[c * sp.parts + p].y;
  }
  dbeta[c] = sum_dy;
  dgamma[c] = sum_dy_xhat;
}

// dx = gamma * invstd / m * (m * dy - sum dy - xhat * sum dy*xhat), the sums being dbeta, dgamma.
__global__ void backward_dx_kernel(const float* x, const float* gamma, const float* mean, const float* invstd,
                                   const float* dy, const float* dgamma, const float* dbeta, float* dx,
                                   BatchNormShape s) {
  const int64_t at = global_index();
  if (at >= s.n * s.c * s.hw) return;
  const uint32_t c = channel_of(static_cast<uint32_t>(at), s);
  const float count = static_cast<float>(s.n * s.hw);
  const float xhat = (x[at] - mean[c]) * invstd[c];
  dx[at] = gamma[c] * invstd[c] / count * (count * dy[at] - dbeta[c] - xhat * dgamma[c]);
}

void check_size(const BatchNormShape& s) {
  if (s.n * s.c * s.hw >= (int64_t{1} << 32))
    throw CudaError(fmt::format("batch_norm: {} values; the CUDA kernels take fewer than 2^32", s.n * s.c * s.hw));
}

}  // namespace

void batch_norm_forward_train(const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                              float* save_invstd, float* running_mean, float* running_var, float momentum, float eps,
                              const BatchNormShape& s) {
  STUCKAT_GPU_PROFILE("batch_norm.fwd_train");
  if (s.c == 0) return;
  check_size(s);
  const Split sp = split_for(s);
  float* partial = static_cast<float*>(scratch(static_cast<size_t>(s.c) * sp.parts * sizeof(float)));
  const dim3 grid(sp.parts, static_cast<unsigned>(s.c));
  partial_sums_kernel<<<grid, kBlock>>>(x, nullptr, partial, s, sp);
  CUDA_CHECK_LAUNCH();
  finish_mean_kernel<<<grid_for(s.c), kBlock>>>(partial, save_mean, s, sp);
  CUDA_CHECK_LAUNCH();
  partial_sums_kernel<<<grid, kBlock>>>(x, save_mean, partial, s, sp);
  CUDA_CHECK_LAUNCH();
  finish_var_kernel<<<grid_for(s.c), kBlock>>>(partial, save_mean, save_invstd, running_mean, running_var, momentum,
                                               eps, s, sp);
  CUDA_CHECK_LAUNCH();
  const int64_t n = s.n * s.c * s.hw;
  if (n == 0) return;
  normalize_kernel<<<grid_for(n), kBlock>>>(x, gamma, beta, save_mean, save_invstd, y, s);
  CUDA_CHECK_LAUNCH();
}

void batch_norm_forward_eval(const float* x, const float* gamma, const float* beta, const float* running_mean,
                             const float* running_var, float eps, float* y, const BatchNormShape& s) {
  STUCKAT_GPU_PROFILE("batch_norm.fwd_eval");
  const int64_t n = s.n * s.c * s.hw;
  if (n == 0) return;
  check_size(s);
  eval_kernel<<<grid_for(n), kBlock>>>(x, gamma, beta, running_mean, running_var, eps, y, s);
  CUDA_CHECK_LAUNCH();
}

void batch_norm_backward(const float* x, const float* gamma, const float* save_mean, const float* save_invstd,
                         const float* dy, float* dx, float* dgamma, float* dbeta, const BatchNormShape& s) {
  STUCKAT_GPU_PROFILE("batch_norm.bwd");
  if (s.c == 0) return;
  check_size(s);
  const Split sp = split_for(s);
  auto* partial = static_cast<float2*>(scratch(static_cast<size_t>(s.c) * sp.parts * sizeof(float2)));
  backward_partials_kernel<<<dim3(sp.parts, static_cast<unsigned>(s.c)), kBlock>>>(x, dy, save_mean, save_invstd,
                                                                                  partial, s, sp);
  CUDA_CHECK_LAUNCH();
  backward_finish_kernel<<<grid_for(s.c), kBlock>>>(partial, dgamma, dbeta, s, sp);
  CUDA_CHECK_LAUNCH();
  const int64_t n = s.n * s.c * s.hw;
  if (n == 0) return;
  backward_dx_kernel<<<grid_for(n), kBlock>>>(x, gamma, save_mean, save_invstd, dy, dgamma, dbeta, dx, s);
  CUDA_CHECK_LAUNCH();
}

}  // namespace stuckat::cuda
