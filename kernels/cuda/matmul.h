// Batched matrix product on the GPU: the MatmulShape, layouts and signatures of
// kernels/cpu/matmul.h; device pointers, default stream (the shape's index lists are copied to
// the device on each call). Plain kernels, one thread per element written, no atomics:
//   forward  y[i] = a[a_index[i]] * b[b_index[i]], each output its k products in order
//   da       per element of A: the outputs using that matrix in output order, each one's n terms
//   db       per element of B: likewise over the outputs using it, each one's m terms
// Backward overwrites da and db; either may be null.
// Also the elementwise part of ONNX Gemm (framework/ops/matmul_ops.cpp's scale-and-add):
// y (m, n) = alpha * p + beta * c, c (cm, cn) with cm in {1, m}, cn in {1, n} broadcast, or null;
// and its C gradient dc = beta * (dy summed over the broadcast rows / columns, row by row).
#pragma once
#include <cstdint>

#include "kernels/cpu/matmul.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API void matmul_forward(const float* a, const float* b, float* y, const cpu::MatmulShape& s) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void matmul_backward(const float* a, const float* b, const float* dy, float* da, float* db, const cpu::MatmulShape& s) STUCKAT_CUDA_STUB;

STUCKAT_CUDA_API void gemm_scale_add_forward(const float* p, float alpha, const float* c, float beta, float* y, int64_t m, int64_t n, int64_t cm, int64_t cn) STUCKAT_CUDA_STUB;
// dp = alpha * dy (dp may be null); dc (cm, cn) as above (dc may be null).
STUCKAT_CUDA_API void gemm_scale_add_backward(const float* dy, float alpha, float beta, float* dp, float* dc, int64_t m, int64_t n, int64_t cm, int64_t cn) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
