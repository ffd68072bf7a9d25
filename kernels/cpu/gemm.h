// Private to kernels/cpu: the one place that talks to OpenBLAS. The CPU kernels parallelise
// with OpenMP (over the batch, or over output rows) and call BLAS on per-thread blocks, so
// BLAS must run single-threaded: its own pthread pool spinning beside OpenMP's would
// oversubscribe the cores. Row-major everywhere, like the tensors.
#pragma once
#include <cblas.h>

#include <cstdint>
#include <vector>

namespace stuckat::cpu {

// Puts OpenBLAS on one thread if anything (its default is one thread per core) changed that.
// Cheap enough to call at the top of every kernel: a read of a global in the common case.
inline void ensure_single_threaded_blas() {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

// C (m, n) = alpha * op(A) * op(B) + beta * C, all row-major; op(A) is (m, k), op(B) is (k, n).
inline void sgemm_rowmajor(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                           int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
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
