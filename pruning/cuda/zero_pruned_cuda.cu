// zero_pruned: one thread per element; kept values are not touched (no arithmetic, bit-exact).
#include "kernels/cuda/profile.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "pruning/cuda/zero_pruned_cuda.h"

namespace stuckat::cuda {
namespace {

__global__ void zero_pruned_kernel(float* x, const uint8_t* keep, int64_t n) {
  const int64_t i = global_index();
  if (i < n && keep[i] == 0) x[i] = 0.0f;
}

}  // namespace

void zero_pruned(float* x, const uint8_t* keep, int64_t n) {
  STUCKAT_GPU_PROFILE("zero_pruned");
  if (n == 0) return;
  zero_pruned_kernel<<<grid_for(n), kBlock>>>(x, keep, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace stuckat::cuda
