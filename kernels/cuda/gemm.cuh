// Row-major fp32 GEMM through cuBLAS, the one place the CUDA kernels call it. CUDA-only header.
#pragma once
#include <cstdint>

namespace stuckat::cuda {

// C (m, n) = alpha * op(A) (m, k) * op(B) (k, n) + beta * C, all row-major and contiguous.
// A is stored (m, k), or (k, m) when trans_a; B is stored (k, n), or (n, k) when trans_b.
// Plain fp32 math (no TF32), on the default stream.
void gemm_row_major(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    const float* b, float beta, float* c);

// Creates the cuBLAS handle if it does not exist yet (gemm_row_major creates it on first use).
void gemm_init();

}  // namespace stuckat::cuda
