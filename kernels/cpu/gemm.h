// Private to kernels/cpu: the one place that talks to the BLAS (BLIS, Debian's libblis-openmp;
// kernels/cpu/blas.cpp sets it up). The CPU kernels parallelise with OpenMP (over the batch, or
// over output rows) and call BLAS on per-thread blocks, so BLAS must run single-threaded: its
// own threads beside OpenMP's would oversubscribe the cores. Row-major everywhere, like the
// tensors.
#pragma once
#ifdef STUCKAT_WITH_BLAS
#include <cblas.h>
#endif

#include <cstddef>
#include <cstdint>
#include <vector>

namespace stuckat::cpu {

// Sets the BLAS up once (blas.cpp): single-threaded, and on its AVX-512 kernels where the CPU has
// them. Cheap enough to call at the top of every kernel: a read of a flag after the first call.
void ensure_single_threaded_blas();

// C (m, n) = alpha * op(A) * op(B) + beta * C, all row-major; op(A) is (m, k), op(B) is (k, n).
inline void sgemm_rowmajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                           int64_t ldc) {
#ifdef STUCKAT_WITH_BLAS
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(lda), b,
              static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
#else
  // Built without BLAS (-DSTUCKAT_BLAS=OFF, for machines that only carry headers): plain
  // loops whose inner loop runs along contiguous rows so the compiler vectorises it.
  for (int64_t i = 0; i < m; ++i) {
    float* ci = c + i * ldc;
    for (int64_t j = 0; j < n; ++j) ci[j] = beta == 0.0f ? 0.0f : beta * ci[j];
    if (!trans_b) {
      for (int64_t p = 0; p < k; ++p) {
        const float aip = alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]);
        const float* bp = b + p * ldb;
        for (int64_t j = 0; j < n; ++j) ci[j] += aip * bp[j];
      }
    } else {
      for (int64_t j = 0; j < n; ++j) {
        const float* bj = b + j * ldb;
        float dot = 0.0f;
        for (int64_t p = 0; p < k; ++p) dot += (trans_a ? a[p * lda + i] : a[i * lda + p]) * bj[p];
        ci[j] += alpha * dot;
      }
    }
  }
#endif
}

// A scratch buffer that only grows, so the hot path allocates nothing after the first call.
// Pass a thread_local vector to get one workspace per thread.
inline float* grow_workspace(std::vector<float>& buffer, int64_t count) {
  if (static_cast<int64_t>(buffer.size()) < count) buffer.resize(static_cast<size_t>(count));
  return buffer.data();
}

// The half-open slice [begin, end) of `total` items that part `index` of `parts` owns; the
// split depends only on (total, parts, index), which keeps the work assignment reproducible.
struct Range {
  int64_t begin, end;
};
inline Range split_range(int64_t total, int64_t parts, int64_t index) {
  const int64_t base = total / parts, extra = total % parts;
  const int64_t begin = index * base + (index < extra ? index : extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

}  // namespace stuckat::cpu
