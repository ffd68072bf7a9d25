// conv2d on the GPU: same shapes and signatures as kernels/cpu/conv2d.h
//   x: (n, c_in, h, w)  w: (c_out, c_in, kh, kw)  b: (c_out) or null  y: (n, c_out, h_out, w_out)
// fp32 through im2col + one cuBLAS GEMM per call (the whole batch at once); the column buffer
// lives in the scratch buffer (kernels/cuda/scratch.h). Backward overwrites dx, dw, db (dx, db
// may be null).
#pragma once
#include <cstdint>

#include "kernels/cpu/conv2d.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

// addend (optional, shaped like y): y = addend + conv (see ConvDims::addend).
STUCKAT_CUDA_API void conv2d_forward(const float* x, const float* w, const float* b, float* y, const cpu::Conv2dShape& s,
                                     const float* addend = nullptr) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                                      const cpu::Conv2dShape& s) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
