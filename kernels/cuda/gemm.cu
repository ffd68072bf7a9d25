// gemm_row_major on cuBLAS. cuBLAS is column-major; a row-major (r, c) matrix is the
// column-major (c, r) matrix, so C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T.
#include <cublas_v2.h>

#include <algorithm>
#include <limits>

#include "kernels/cuda/profile.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/gemm.cuh"

namespace stuckat::cuda {
namespace {

cublasHandle_t handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t created = nullptr;
    CUBLAS_CHECK(cublasCreate(&created));
    // Plain fp32 (the default math mode never rounds sgemm inputs to TF32), comparable with
    // the CPU reference.
    CUBLAS_CHECK(cublasSetMathMode(created, CUBLAS_DEFAULT_MATH));
    return created;
  }();  // never destroyed: kernels may run during static destruction
  return h;
}

int as_int(int64_t v, const char* what) {
  if (v < 0 || v > std::numeric_limits<int>::max())
    throw CudaError(fmt::format("gemm_row_major: {} = {} does not fit cuBLAS's int", what, v));
  return static_cast<int>(v);
}

}  // namespace

void gemm_init() { (void)handle(); }

void gemm_row_major(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    const float* b, float beta, float* c) {
  STUCKAT_GPU_PROFILE("gemm");
  if (m == 0 || n == 0) return;
  const int mi = as_int(m, "m"), ni = as_int(n, "n"), ki = as_int(k, "k");
  const int lda = std::max(1, trans_a ? mi : ki);  // stored row length of A
  const int ldb = std::max(1, trans_b ? ki : ni);  // stored row length of B
  CUBLAS_CHECK(cublasSgemm(handle(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, ni, mi,
                           ki, &alpha, b, ldb, a, lda, &beta, c, ni));
}

}  // namespace stuckat::cuda
