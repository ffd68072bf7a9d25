// SGD step kernel: one thread per parameter, statement for statement kernels/cpu/sgd_update.cpp.
#include "kernels/cuda/profile.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/sgd_update.h"

namespace stuckat::cuda {
namespace {

__global__ void sgd_kernel(float* p, const float* grad, float* buf, int64_t n, cpu::SgdConfig c, bool first) {
  const int64_t i = global_index();
  if (i >= n) return;
  float g = grad[i];
  if (c.weight_decay != 0.0f) g = fmaf(c.weight_decay, p[i], g);
  if (c.momentum != 0.0f) {
    const float b = first ? g : fmaf(c.momentum, buf[i], __fmul_rn(1.0f - c.dampening, g));
    buf[i] = b;
    g = c.nesterov ? fmaf(c.momentum, b, g) : b;
  }
  p[i] = fmaf(-c.lr, g, p[i]);
}

}  // namespace

void sgd_update(float* p, const float* grad, float* momentum_buf, int64_t n, const cpu::SgdConfig& c,
                bool first_step) {
  STUCKAT_GPU_PROFILE("sgd_update");
  if (n == 0) return;
  sgd_kernel<<<grid_for(n), kBlock>>>(p, grad, momentum_buf, n, c, first_step);
  CUDA_CHECK_LAUNCH();
}

}  // namespace stuckat::cuda
