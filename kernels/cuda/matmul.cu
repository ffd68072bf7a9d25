// Batched matmul and Gemm's scale-and-add (kernels/cuda/matmul.h): plain one-thread-per-element
// kernels in a fixed summation order. Written for clarity, not speed.
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/matmul.h"
#include "kernels/cuda/memory.h"
#include "kernels/cuda/profile.h"
#include "kernels/cuda/scratch.h"

namespace stuckat::cuda {
namespace {

using cpu::MatmulShape;

struct Dims {
  int64_t m, k, n, a_count, b_count, batch;
};

// The shape's index lists on the device: a_index then b_index, in the scratch buffer.
const int64_t* upload_indices(const MatmulShape& s) {
  const size_t count = static_cast<size_t>(s.batch());
  std::vector<int64_t> both(2 * count);
  for (size_t i = 0; i < count; ++i) {
    both[i] = s.a_index[i];
    both[count + i] = s.b_index[i];
  }
  auto* device = static_cast<int64_t*>(scratch(both.size() * sizeof(int64_t)));
  copy_to_device(device, both.data(), both.size() * sizeof(int64_t));
  return device;
}

__global__ void forward_kernel(const float* a, const float* b, float* y, const int64_t* a_index,
                               const int64_t* b_index, Dims s) {
  const int64_t o = global_index();
  if (o >= s.batch * s.m * s.n) return;
  const int64_t col = o % s.n, row = o / s.n % s.m, i = o / (s.n * s.m);
  const float* ap = a + a_index[i] * s.m * s.k + row * s.k;
  const float* bp = b + b_index[i] * s.k * s.n + col;
  float acc = 0.0f;
  for (int64_t t = 0; t < s.k; ++t) acc += ap[t] * bp[t * s.n];
  y[o] = acc;
}

// da[ai](row, t) = sum over outputs i with a_index[i] == ai, in order, of sum_col dy[i](row, col) * b[b_index[i]](t, col).
__global__ void da_kernel(const float* b, const float* dy, float* da, const int64_t* a_index, const int64_t* b_index,
                          Dims s) {
  const int64_t e = global_index();
  if (e >= s.a_count * s.m * s.k) return;
  const int64_t t = e % s.k, row = e / s.k % s.m, ai = e / (s.k * s.m);
  float total = 0.0f;
  for (int64_t i = 0; i < s.batch; ++i) {
    if (a_index[i] != ai) continue;
    const float* g = dy + (i * s.m + row) * s.n;
    const float* bp = b + (b_index[i] * s.k + t) * s.n;
    float part = 0.0f;
    for (int64_t col = 0; col < s.n; ++col) part += g[col] * bp[col];
    total += part;
  }
  da[e] = total;
}

// db[bi](t, col) = sum over outputs i with b_index[i] == bi, in order, of sum_row a[a_index[i]](row, t) * dy[i](row, col).
__global__ void db_kernel(const float* a, const float* dy, float* db, const int64_t* a_index, const int64_t* b_index,
                          Dims s) {
  const int64_t e = global_index();
  if (e >= s.b_count * s.k * s.n) return;
  const int64_t col = e % s.n, t = e / s.n % s.k, bi = e / (s.n * s.k);
  float total = 0.0f;
  for (int64_t i = 0; i < s.batch; ++i) {
    if (b_index[i] != bi) continue;
    const float* ap = a + a_index[i] * s.m * s.k + t;
    const float* g = dy + i * s.m * s.n + col;
    float part = 0.0f;
    for (int64_t row = 0; row < s.m; ++row) part += ap[row * s.k] * g[row * s.n];
    total += part;
  }
  db[e] = total;
}

__global__ void scale_add_kernel(const float* p, float alpha, const float* c, float beta, float* y, int64_t m,
                                 int64_t n, int64_t cm, int64_t cn) {
  const int64_t o = global_index();
  if (o >= m * n) return;
  const int64_t j = o % n, i = o / n;
  const int64_t ci = cm == 1 ? 0 : i, cj = cn == 1 ? 0 : j;
  y[o] = alpha * p[o] + (c ? beta * c[ci * cn + cj] : 0.0f);
}

__global__ void scale_kernel(const float* dy, float alpha, float* dp, int64_t total) {
  const int64_t o = global_index();
  if (o < total) dp[o] = alpha * dy[o];
}

// One thread per element of C: the dy entries it was broadcast to, row by row, then times beta.
__global__ void scale_add_dc_kernel(const float* dy, float beta, float* dc, int64_t m, int64_t n, int64_t cm,
                                    int64_t cn) {
  const int64_t e = global_index();
  if (e >= cm * cn) return;
  const int64_t cj = e % cn, ci = e / cn;
  const int64_t i0 = cm == 1 ? 0 : ci, i1 = cm == 1 ? m : ci + 1;
  const int64_t j0 = cn == 1 ? 0 : cj, j1 = cn == 1 ? n : cj + 1;
  float sum = 0.0f;
  for (int64_t i = i0; i < i1; ++i)
    for (int64_t j = j0; j < j1; ++j) sum += dy[i * n + j];
  dc[e] = sum * beta;
}

}  // namespace

void matmul_forward(const float* a, const float* b, float* y, const MatmulShape& s) {
  STUCKAT_GPU_PROFILE("matmul.fwd");
  const Dims d{s.m, s.k, s.n, s.a_count, s.b_count, s.batch()};
  const int64_t total = d.batch * d.m * d.n;
  if (total == 0) return;
  const int64_t* index = upload_indices(s);
  forward_kernel<<<grid_for(total), kBlock>>>(a, b, y, index, index + d.batch, d);
  CUDA_CHECK_LAUNCH();
}

void matmul_backward(const float* a, const float* b, const float* dy, float* da, float* db, const MatmulShape& s) {
  STUCKAT_GPU_PROFILE("matmul.bwd");
  const Dims d{s.m, s.k, s.n, s.a_count, s.b_count, s.batch()};
  const int64_t a_total = d.a_count * d.m * d.k, b_total = d.b_count * d.k * d.n;
  if ((!da || a_total == 0) && (!db || b_total == 0)) return;
  const int64_t* index = upload_indices(s);
  if (da && a_total > 0) {
    da_kernel<<<grid_for(a_total), kBlock>>>(b, dy, da, index, index + d.batch, d);
    CUDA_CHECK_LAUNCH();
  }
  if (db && b_total > 0) {
    db_kernel<<<grid_for(b_total), kBlock>>>(a, dy, db, index, index + d.batch, d);
    CUDA_CHECK_LAUNCH();
  }
}

void gemm_scale_add_forward(const float* p, float alpha, const float* c, float beta, float* y, int64_t m, int64_t n,
                            int64_t cm, int64_t cn) {
  STUCKAT_GPU_PROFILE("gemm_scale_add.fwd");
  if (m * n == 0) return;
  scale_add_kernel<<<grid_for(m * n), kBlock>>>(p, alpha, c, beta, y, m, n, cm, cn);
  CUDA_CHECK_LAUNCH();
}

void gemm_scale_add_backward(const float* dy, float alpha, float beta, float* dp, float* dc, int64_t m, int64_t n,
                             int64_t cm, int64_t cn) {
  STUCKAT_GPU_PROFILE("gemm_scale_add.bwd");
  if (dp && m * n > 0) {
    scale_kernel<<<grid_for(m * n), kBlock>>>(dy, alpha, dp, m * n);
    CUDA_CHECK_LAUNCH();
  }
  if (dc && cm * cn > 0) {
    scale_add_dc_kernel<<<grid_for(cm * cn), kBlock>>>(dy, beta, dc, m, n, cm, cn);
    CUDA_CHECK_LAUNCH();
  }
}

}  // namespace stuckat::cuda
