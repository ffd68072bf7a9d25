// One SGD step on the GPU: the arithmetic of kernels/cpu/sgd_update.h (PyTorch semantics),
// device pointers, same results bit for bit (fmaf where the CPU uses std::fma, and the file is
// compiled with --fmad=false so nvcc fuses nothing else). momentum_buf may be null when
// c.momentum == 0.
#pragma once
#include <cstdint>

#include "kernels/cpu/sgd_update.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API void sgd_update(float* p, const float* grad, float* momentum_buf, int64_t n, const cpu::SgdConfig& c,
                                 bool first_step) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
