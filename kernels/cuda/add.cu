// Elementwise add and subtract: one thread per element (each reads its inputs before writing, so aliasing
// out with an input is safe).
#include "kernels/cuda/preload.cuh"
#include "kernels/cuda/profile.h"
#include "kernels/cuda/add.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"

namespace stuckat::cuda {
namespace {

__global__ void add_kernel(const float* a, const float* b, float* out, int64_t n) {
  const int64_t i = global_index();
  if (i < n) out[i] = a[i] + b[i];
}

__global__ void sub_kernel(const float* a, const float* b, float* out, int64_t n) {
  const int64_t i = global_index();
  if (i < n) out[i] = a[i] - b[i];
}

template <typename I>
__global__ void add_tiled_kernel(const float* tile, I m, const float* b, float* out, I n) {
  const I i = thread_index<I>();
  if (i < n) out[i] = tile[i % m] + b[i];
}

}  // namespace

void add_tiled_forward(const float* tile, int64_t m, const float* b, float* out, int64_t n) {
  STUCKAT_GPU_PROFILE("add_tiled");
  if (n == 0) return;
  if (fits_int32(n))
    add_tiled_kernel<int32_t><<<grid_for(n), kBlock>>>(tile, static_cast<int32_t>(m), b, out, static_cast<int32_t>(n));
  else
    add_tiled_kernel<int64_t><<<grid_for(n), kBlock>>>(tile, m, b, out, n);
  CUDA_CHECK_LAUNCH();
}

void add_forward(const float* a, const float* b, float* out, int64_t n) {
  STUCKAT_GPU_PROFILE("add");
  if (n == 0) return;
  add_kernel<<<grid_for(n), kBlock>>>(a, b, out, n);
  CUDA_CHECK_LAUNCH();
}

void sub_forward(const float* a, const float* b, float* out, int64_t n) {
  STUCKAT_GPU_PROFILE("sub");
  if (n == 0) return;
  sub_kernel<<<grid_for(n), kBlock>>>(a, b, out, n);
  CUDA_CHECK_LAUNCH();
}

void preload_add_kernels() {
  preload_kernel(add_kernel);
  preload_kernel(sub_kernel);
  preload_kernel(add_tiled_kernel<int32_t>);
  preload_kernel(add_tiled_kernel<int64_t>);
}

}  // namespace stuckat::cuda
