// Fully connected layer y = x W^T + b on the GPU: same shapes and signatures as
// kernels/cpu/linear.h (x: (n, in), w: (out, in), b: (out) or null, y: (n, out)); the GEMMs go
// to cuBLAS fp32, the bias to our kernels. Backward overwrites dx, dw, db (dx, db may be null).
#pragma once
#include <cstdint>

#include "kernels/cpu/linear.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API void linear_forward(const float* x, const float* w, const float* b, float* y, const cpu::LinearShape& s) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void linear_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                                      const cpu::LinearShape& s) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
