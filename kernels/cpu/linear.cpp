// Fast float fully connected layer: GEMMs on per-thread blocks (small_gemm.h: AVX-512 kernels,
// BLIS single-threaded for large layers, see gemm.h). Every output element is owned by
// exactly one thread, so nothing needs reducing:
//   forward  y (n, out)  = x W^T + b   split over batch rows (or over `out` when the batch is small)
//   dx       (n, in)     = dy W        split over batch rows (or over `in`)
//   dW       (out, in)   = dy^T x      split over output rows; db alongside it
#include <omp.h>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/small_gemm.h"

namespace stuckat::cpu {

void linear_forward(const float* x, const float* w, const float* b, float* y, const LinearShape& s) {
  ensure_single_threaded_blas();
  const bool split_batch = s.n >= s.out;
#pragma omp parallel
  {
    const Range r = split_range(split_batch ? s.n : s.out, omp_get_num_threads(), omp_get_thread_num());
    if (r.end > r.begin) {
      // The block: batch rows [r0, r1) x output columns [c0, c1).
      const int64_t r0 = split_batch ? r.begin : 0, r1 = split_batch ? r.end : s.n;
      const int64_t c0 = split_batch ? 0 : r.begin, c1 = split_batch ? s.out : r.end;
      if (b)
        for (int64_t n = r0; n < r1; ++n)
          for (int64_t o = c0; o < c1; ++o) y[n * s.out + o] = b[o];
      gemm_dot_rows(r1 - r0, c1 - c0, s.in, x + r0 * s.in, s.in, w + c0 * s.in, s.in, y + r0 * s.out + c0, s.out,
                    b != nullptr);
    }
  }
}

void linear_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db,
                     const LinearShape& s) {
  ensure_single_threaded_blas();
  const bool split_batch = s.n >= s.in;
#pragma omp parallel
  {
    const int team = omp_get_num_threads(), t = omp_get_thread_num();
    if (dx) {
      const Range r = split_range(split_batch ? s.n : s.in, team, t);
      if (r.end > r.begin) {
        const int64_t r0 = split_batch ? r.begin : 0, r1 = split_batch ? r.end : s.n;
        const int64_t c0 = split_batch ? 0 : r.begin, c1 = split_batch ? s.in : r.end;
        gemm_strided_a(r1 - r0, c1 - c0, s.out, dy + r0 * s.out, s.out, 1, w + c0, s.in, dx + r0 * s.in + c0, s.in,
                       false);
      }
    }
    const Range o = split_range(s.out, team, t);
    if (o.end > o.begin) {
      // dy^T read in place: A(j, n) = dy[n * out + j].
      gemm_strided_a(o.end - o.begin, s.in, s.n, dy + o.begin, 1, s.out, x, s.in, dw + o.begin * s.in, s.in, false);
      if (db) {
        for (int64_t j = o.begin; j < o.end; ++j) db[j] = 0.0f;
        for (int64_t n = 0; n < s.n; ++n)  // batch-outer keeps the reads of dy contiguous
          for (int64_t j = o.begin; j < o.end; ++j) db[j] += dy[n * s.out + j];
      }
    }
  }
}

}  // namespace stuckat::cpu
