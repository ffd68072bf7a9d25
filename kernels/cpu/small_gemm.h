// Private to kernels/cpu: register-blocked AVX-512 GEMMs for the shapes conv2d and linear
// produce -- one small dimension (channels, <= a few hundred) against a long one (pixels).
// Why not the BLAS alone: written when the BLAS was OpenBLAS 0.3.21, whose DYNAMIC_ARCH does not
// recognise this project's (virtualised) CPUs and falls back to its SSE3 "Prescott" kernels,
// ~20 GFLOP/s on these shapes; these kernels reach several times that on one core. (The BLAS is
// now BLIS on its AVX-512 kernels, kernels/cpu/blas.cpp; these stay for the small shapes, where
// LeNet-5's results are pinned to them.) Without AVX-512 (-march=native off) they fall back to
// cblas_sgemm.
// Summation order depends only on the shapes, so results are reproducible. The kernels do no
// cache blocking: when the operand they re-read (A for gemm_strided_a, B for gemm_dot_rows)
// outgrows L2 (VGG/ResNet-sized layers) they hand the product to cblas_sgemm instead.
#pragma once
#include <cstdint>

namespace stuckat::cpu {

// C (m, n) = A (m, k) * B (k, n)  [+ C when accumulate]. A is read through strides so a
// transposed operand needs no copy: A(i, p) = a[i * a_row_stride + p * a_col_stride].
// B and C are row-major with leading dimensions ldb, ldc.
void gemm_strided_a(int64_t m, int64_t n, int64_t k, const float* a, int64_t a_row_stride, int64_t a_col_stride,
                    const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate);

// C (m, n) = A (m, k) * B (n, k)^T  [+ C when accumulate]: every output is a dot product of a
// row of A with a row of B, both contiguous (lda, ldb, ldc are row strides).
void gemm_dot_rows(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                   float* c, int64_t ldc, bool accumulate);

}  // namespace stuckat::cpu
