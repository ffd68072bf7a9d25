// Register-blocked GEMM micro-kernels (see small_gemm.h for why they exist).
//   gemm_strided_a: an MR x 32 block of C lives in 2*MR zmm registers; each step over k loads
//     two 16-wide vectors of one B row and broadcasts MR values of A -- 2*MR FMAs per 2 + MR loads.
//     Columns are the outer loop so the k x 32 panel of B stays in L1 while every row block of
//     A passes over it.
//   gemm_dot_rows: a 4 x 4 block of C is 16 dot products accumulated in 16 zmm registers over k,
//     8 loads per 16 FMAs, reduced horizontally at the end.
// Ragged edges use masked loads/stores, so no operand is ever read or written out of bounds.
#include "kernels/cpu/small_gemm.h"

#include <algorithm>

#include "kernels/cpu/gemm.h"

#ifdef __AVX512F__
#include <immintrin.h>
#endif

namespace stuckat::cpu {
namespace {

// The operand a kernel re-reads for every block must stay in L2 (1-2 MiB per core on AVX-512
// Xeons); 256 KiB leaves room for the other operand and the output.
constexpr int64_t kMaxReusedFloats = 64 * 1024;

void blas_strided_a(int64_t m, int64_t n, int64_t k, const float* a, int64_t a_rs, int64_t a_cs, const float* b,
                    int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  // Row-major (m, k) with row stride a_rs when a_cs == 1, else stored as (k, m) with row stride
  // a_cs (a_rs == 1). With one row (or one column) both strides may be 1: the BLAS still wants a
  // leading dimension of at least the row length, which the unused stride then may be.
  const bool transposed = !(a_cs == 1 && (a_rs >= k || m == 1));
  const int64_t lda = transposed ? std::max(a_cs, k == 1 ? m : int64_t{1}) : std::max(a_rs, m == 1 ? k : int64_t{1});
  sgemm_rowmajor(transposed, false, m, n, k, 1.0f, a, lda, b, ldb, accumulate ? 1.0f : 0.0f, c, ldc);
}

void blas_dot_rows(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                   float* c, int64_t ldc, bool accumulate) {
  sgemm_rowmajor(false, true, m, n, k, 1.0f, a, lda, b, ldb, accumulate ? 1.0f : 0.0f, c, ldc);
}

}  // namespace

#ifdef __AVX512F__
namespace {

__mmask16 tail_mask(int64_t count) {  // the first min(count, 16) lanes
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
}

// Sum of the 16 lanes by halving. Written with GCC/Clang vector shuffles rather than the
// _mm512 reduce/shuffle intrinsics, whose GCC 12 implementations trip -Wuninitialized inside
// the compiler's own header (GCC bug 105593).
float horizontal_sum(__m512 v) {
  typedef float Lanes16 __attribute__((vector_size(64)));
  typedef float Lanes8 __attribute__((vector_size(32)));
  typedef float Lanes4 __attribute__((vector_size(16)));
  const Lanes16 x = reinterpret_cast<Lanes16>(v);
  const Lanes8 h8 = __builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7) +
                    __builtin_shufflevector(x, x, 8, 9, 10, 11, 12, 13, 14, 15);
  const Lanes4 h4 = __builtin_shufflevector(h8, h8, 0, 1, 2, 3) + __builtin_shufflevector(h8, h8, 4, 5, 6, 7);
  return (h4[0] + h4[2]) + (h4[1] + h4[3]);
}

template <int MR>
void strided_a_block(int64_t k, const float* a, int64_t a_rs, int64_t a_cs, const float* b, int64_t ldb, float* c,
                     int64_t ldc, __mmask16 m0, __mmask16 m1, bool accumulate) {
  __m512 acc0[MR], acc1[MR];
  #pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    acc0[r] = accumulate ? _mm512_maskz_loadu_ps(m0, c + r * ldc) : _mm512_setzero_ps();
    acc1[r] = accumulate ? _mm512_maskz_loadu_ps(m1, c + r * ldc + 16) : _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < k; ++p) {
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, b + p * ldb);
    const __m512 b1 = _mm512_maskz_loadu_ps(m1, b + p * ldb + 16);
  #pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * a_rs + p * a_cs]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
  }
  #pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    _mm512_mask_storeu_ps(c + r * ldc, m0, acc0[r]);
    _mm512_mask_storeu_ps(c + r * ldc + 16, m1, acc1[r]);
  }
}

template <int MI, int NJ>
void dot_rows_block(int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                    bool accumulate) {
  __m512 acc[MI][NJ];
  #pragma GCC unroll 4
  for (int i = 0; i < MI; ++i)
    #pragma GCC unroll 4
    for (int j = 0; j < NJ; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t p = 0; p < k; p += 16) {
    const __mmask16 mask = tail_mask(k - p);
    __m512 bv[NJ];
    #pragma GCC unroll 4
    for (int j = 0; j < NJ; ++j) bv[j] = _mm512_maskz_loadu_ps(mask, b + j * ldb + p);
    #pragma GCC unroll 4
    for (int i = 0; i < MI; ++i) {
      const __m512 av = _mm512_maskz_loadu_ps(mask, a + i * lda + p);
      #pragma GCC unroll 4
      for (int j = 0; j < NJ; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
  #pragma GCC unroll 4
  for (int i = 0; i < MI; ++i)
    #pragma GCC unroll 4
    for (int j = 0; j < NJ; ++j) {
      const float sum = horizontal_sum(acc[i][j]);
      c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
    }
}

using DotRowsBlock = void (*)(int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, bool);
constexpr DotRowsBlock kDotRowsBlocks[4][4] = {
    {dot_rows_block<1, 1>, dot_rows_block<1, 2>, dot_rows_block<1, 3>, dot_rows_block<1, 4>},
    {dot_rows_block<2, 1>, dot_rows_block<2, 2>, dot_rows_block<2, 3>, dot_rows_block<2, 4>},
    {dot_rows_block<3, 1>, dot_rows_block<3, 2>, dot_rows_block<3, 3>, dot_rows_block<3, 4>},
    {dot_rows_block<4, 1>, dot_rows_block<4, 2>, dot_rows_block<4, 3>, dot_rows_block<4, 4>},
};

}  // namespace

void gemm_strided_a(int64_t m, int64_t n, int64_t k, const float* a, int64_t a_rs, int64_t a_cs, const float* b,
                    int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  if (m * k > kMaxReusedFloats) return blas_strided_a(m, n, k, a, a_rs, a_cs, b, ldb, c, ldc, accumulate);
  constexpr int64_t kRows = 8;  // 16 accumulators + 2 B vectors + 1 broadcast: 19 of 32 zmm
  for (int64_t j = 0; j < n; j += 32) {
    const __mmask16 m0 = tail_mask(n - j), m1 = tail_mask(n - j - 16 > 0 ? n - j - 16 : 0);
    int64_t i = 0;
    for (; i + kRows <= m; i += kRows)
      strided_a_block<kRows>(k, a + i * a_rs, a_rs, a_cs, b + j, ldb, c + i * ldc + j, ldc, m0, m1, accumulate);
    const float* ai = a + i * a_rs;
    float* ci = c + i * ldc + j;
    switch (m - i) {
      case 7: strided_a_block<7>(k, ai, a_rs, a_cs, b + j, ldb, ci, ldc, m0, m1, accumulate); break;
      case 6: strided_a_block<6>(k, ai, a_rs, a_cs, b + j, ldb, ci, ldc, m0, m1, accumulate); break;
      case 5: strided_a_block<5>(k, ai, a_rs, a_cs, b + j, ldb, ci, ldc, m0, m1, accumulate); break;
      case 4: strided_a_block<4>(k, ai, a_rs, a_cs, b + j, ldb, ci, ldc, m0, m1, accumulate); break;
      case 3: strided_a_block<3>(k, ai, a_rs, a_cs, b + j, ldb, ci, ldc, m0, m1, accumulate); break;
      case 2: strided_a_block<2>(k, ai, a_rs, a_cs, b + j, ldb, ci, ldc, m0, m1, accumulate); break;
      case 1: strided_a_block<1>(k, ai, a_rs, a_cs, b + j, ldb, ci, ldc, m0, m1, accumulate); break;
      default: break;
    }
  }
}

void gemm_dot_rows(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                   float* c, int64_t ldc, bool accumulate) {
  if (n * k > kMaxReusedFloats) return blas_dot_rows(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
  for (int64_t i = 0; i < m; i += 4) {
    const int64_t mi = m - i < 4 ? m - i : 4;
    for (int64_t j = 0; j < n; j += 4) {
      const int64_t nj = n - j < 4 ? n - j : 4;
      kDotRowsBlocks[mi - 1][nj - 1](k, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc, accumulate);
    }
  }
}

#else  // no AVX-512: hand the same products to BLAS

void gemm_strided_a(int64_t m, int64_t n, int64_t k, const float* a, int64_t a_rs, int64_t a_cs, const float* b,
                    int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  blas_strided_a(m, n, k, a, a_rs, a_cs, b, ldb, c, ldc, accumulate);
}

void gemm_dot_rows(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                   float* c, int64_t ldc, bool accumulate) {
  blas_dot_rows(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

#endif

}  // namespace stuckat::cpu
