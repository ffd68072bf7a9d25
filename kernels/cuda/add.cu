// Elementwise add and subtract: one thread per element (each reads its inputs before writing, so aliasing
// out with an input is safe).
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

}  // namespace

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

}  // namespace stuckat::cuda
