// Batch normalisation on the GPU: same shapes, formulas and signatures as kernels/cpu/batch_norm.h
// (two-pass batch statistics, biased variance for normalising, unbiased for the running
// variance, running = (1 - momentum) * running + momentum * batch). Device pointers.
#pragma once
#include <cstdint>

#include "kernels/cpu/batch_norm.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API void batch_norm_forward_train(const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                                               float* save_invstd, float* running_mean, float* running_var, float momentum, float eps,
                                               const cpu::BatchNormShape& s) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void batch_norm_forward_eval(const float* x, const float* gamma, const float* beta, const float* running_mean,
                                              const float* running_var, float eps, float* y, const cpu::BatchNormShape& s) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void batch_norm_backward(const float* x, const float* gamma, const float* save_mean, const float* save_invstd,
                                          const float* dy, float* dx, float* dgamma, float* dbeta, const cpu::BatchNormShape& s) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
