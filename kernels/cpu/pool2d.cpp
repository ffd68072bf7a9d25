// Fast float pooling for CPU training: one (n, c) plane per OpenMP iteration, a dedicated
// loop for the 2x2 stride-2 max pool that LeNet-5 and VGG use, and bin edges of adaptive
// pooling computed once per call. Results follow the reference loops in pool2d_ref.cpp (same
// window order, so max pool values and argmax are identical).
#include <algorithm>
#include <vector>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "kernels/cpu/pool2d.h"
#include "kernels/cpu/pool2d_window.h"
#include "kernels/cpu/simd.h"

namespace stuckat::cpu {
namespace {

// Below this many input elements an OpenMP fork costs more than the pooling itself.
constexpr int64_t kParallelMinElements = 1 << 15;

// One 2x2 window, visited in row-major order (a, b / c, d), with max_pool_takes's rules written
// without branches (| and & instead of || and &&) so the loop below vectorises.
inline void max_pool_2x2_window(float a, float b, float c, float d, int32_t ia, int32_t ib, int32_t ic, int32_t id,
                                float& best, int32_t& arg) {
  best = a, arg = ia;
  bool take = (b > best) | ((b != b) & (best == best));
  best = take ? b : best, arg = take ? ib : arg;
  take = (c > best) | ((c != c) & (best == best));
  best = take ? c : best, arg = take ? ic : arg;
  take = (d > best) | ((d != d) & (best == best));
  best = take ? d : best, arg = take ? id : arg;
}

#ifdef __AVX512F__
// Up to 16 outputs of one output row from input rows r0, r1 (2*count floats each), 16 lanes at
// once: even/odd columns split with a two-source permute, then max_pool_2x2_window's rules as
// mask compares and blends (UNORD = NaN test, ORD = not NaN).
// Relu: the window's values go through relu_forward's rule (v < 0 ? 0 : v) first.
template <bool Relu>
inline void max_pool_2x2_row16(const float* r0, const float* r1, float* y, int32_t* a, int32_t top, int32_t bottom,
                               int32_t col0, int count) {
  const __mmask16 lo = static_cast<__mmask16>(count >= 8 ? 0xFFFF : (1u << (2 * count)) - 1);
  const __mmask16 hi = static_cast<__mmask16>(count <= 8 ? 0 : (1u << (2 * (count - 8))) - 1);
  const __m512 r0a = _mm512_maskz_loadu_ps(lo, r0), r0b = _mm512_maskz_loadu_ps(hi, r0 + 16);
  const __m512 r1a = _mm512_maskz_loadu_ps(lo, r1), r1b = _mm512_maskz_loadu_ps(hi, r1 + 16);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  __m512 wa = _mm512_permutex2var_ps(r0a, even, r0b), wb = _mm512_permutex2var_ps(r0a, odd, r0b);
  __m512 wc = _mm512_permutex2var_ps(r1a, even, r1b), wd = _mm512_permutex2var_ps(r1a, odd, r1b);
  if constexpr (Relu) {
    const __m512 zero = _mm512_setzero_ps();
    for (__m512* v : {&wa, &wb, &wc, &wd}) *v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(*v, zero, _CMP_LT_OQ), *v, zero);
  }
  __m512 best = wa;
  __m512i arg = _mm512_setzero_si512();  // 0..3: which window element
  const __m512 cand[3] = {wb, wc, wd};
  for (int k = 0; k < 3; ++k) {
    const __mmask16 take = _mm512_cmp_ps_mask(cand[k], best, _CMP_GT_OQ) |
                           (_mm512_cmp_ps_mask(cand[k], cand[k], _CMP_UNORD_Q) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q));
    best = _mm512_mask_blend_ps(take, best, cand[k]);
    arg = _mm512_mask_blend_epi32(take, arg, _mm512_set1_epi32(k + 1));
  }
  const __mmask16 out = static_cast<__mmask16>(count >= 16 ? 0xFFFF : (1u << count) - 1);
  _mm512_mask_storeu_ps(y, out, best);
  if (a == nullptr) return;
  // Element k of the window at output column ox: row (k >> 1 ? bottom : top) + 2*ox + (k & 1).
  const __m512i cols = _mm512_add_epi32(_mm512_set1_epi32(col0), _mm512_slli_epi32(
                                            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1));
  const __m512i row = _mm512_mask_blend_epi32(_mm512_cmpge_epi32_mask(arg, _mm512_set1_epi32(2)), _mm512_set1_epi32(top),
                                              _mm512_set1_epi32(bottom));
  const __m512i index = _mm512_add_epi32(_mm512_add_epi32(row, cols), _mm512_and_si512(arg, _mm512_set1_epi32(1)));
  _mm512_mask_storeu_epi32(a, out, index);
}
#endif

#if !defined(__AVX512F__) && defined(__AVX2__)
// The same for up to 8 outputs in 8 lanes: even/odd columns split with in-lane shuffles and a
// cross-lane permute of 64-bit pairs, masks as all-ones lanes.
inline __m256i first_lanes8(int count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count < 0 ? 0 : count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline void split_even_odd(__m256 a, __m256 b, __m256& even, __m256& odd) {
  // Per 128-bit half: (a0 a2 b0 b2 | a4 a6 b4 b6); the permute orders the pairs a0a2 a4a6 b0b2 b4b6.
  const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}
// max_pool_takes's choice between best and c, 8 lanes: all ones where c replaces best.
inline __m256 take_mask(__m256 best, __m256 c) {
  return _mm256_or_ps(_mm256_cmp_ps(c, best, _CMP_GT_OQ),
                      _mm256_and_ps(_mm256_cmp_ps(c, c, _CMP_UNORD_Q), _mm256_cmp_ps(best, best, _CMP_ORD_Q)));
}
inline __m256 take_max(__m256 best, __m256 c) { return _mm256_blendv_ps(best, c, take_mask(best, c)); }
// relu_forward's rule, 8 lanes: NaN and -0 pass.
inline __m256 relu8(__m256 v) {
  const __m256 zero = _mm256_setzero_ps();
  return _mm256_blendv_ps(v, zero, _mm256_cmp_ps(v, zero, _CMP_LT_OQ));
}

template <bool Relu>
inline void max_pool_2x2_row8(const float* r0, const float* r1, float* y, int32_t* a, int32_t top, int32_t bottom,
                              int32_t col0, int count) {
  __m256 wa, wb, wc, wd;
  if (count == 8) {
    split_even_odd(_mm256_loadu_ps(r0), _mm256_loadu_ps(r0 + 8), wa, wb);
    split_even_odd(_mm256_loadu_ps(r1), _mm256_loadu_ps(r1 + 8), wc, wd);
  } else {
    const __m256i lo = first_lanes8(2 * count), hi = first_lanes8(2 * count - 8);
    split_even_odd(_mm256_maskload_ps(r0, lo), _mm256_maskload_ps(r0 + 8, hi), wa, wb);
    split_even_odd(_mm256_maskload_ps(r1, lo), _mm256_maskload_ps(r1 + 8, hi), wc, wd);
  }
  if constexpr (Relu)
    for (__m256* v : {&wa, &wb, &wc, &wd}) *v = relu8(*v);
  __m256 best = wa;
  __m256 arg = _mm256_castsi256_ps(_mm256_setzero_si256());  // 0..3: which window element
  const __m256 cand[3] = {wb, wc, wd};
  for (int k = 0; k < 3; ++k) {
    const __m256 take = take_mask(best, cand[k]);
    best = _mm256_blendv_ps(best, cand[k], take);
    arg = _mm256_blendv_ps(arg, _mm256_castsi256_ps(_mm256_set1_epi32(k + 1)), take);
  }
  simd::vstore_count(y, count, best);  // a partial vector through a buffer: masked stores are slow on Zen 3
  if (a == nullptr) return;
  // Element k of the window at output column ox: row (k >> 1 ? bottom : top) + 2*ox + (k & 1).
  const __m256i k = _mm256_castps_si256(arg);
  const __m256i cols = _mm256_add_epi32(_mm256_set1_epi32(col0), _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14));
  const __m256i row = _mm256_blendv_epi8(_mm256_set1_epi32(top), _mm256_set1_epi32(bottom),
                                         _mm256_cmpgt_epi32(k, _mm256_set1_epi32(1)));
  const __m256i index = _mm256_add_epi32(_mm256_add_epi32(row, cols), _mm256_and_si256(k, _mm256_set1_epi32(1)));
  if (count == 8) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(a), index);
  } else {
    alignas(32) int32_t part[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(part), index);
    for (int i = 0; i < count; ++i) a[i] = part[i];
  }
}
#endif

inline float relu_value(float v) { return v < 0.0f ? 0.0f : v; }  // relu_forward's rule

#if !defined(__AVX512F__) && defined(__AVX2__)
inline float take_max(float best, float c) { return max_pool_takes(c, best) ? c : best; }

// Values only, rows of even width w: first the max of each horizontal pair over the 2 * ho rows as
// one flat run (pairs never straddle rows), then each output row from two rows of pairs. The max
// of the pairs' maxima is the window's max with the same rules (the first of equal values, the
// first NaN: taking the first winner of each half, then the second only when it wins, picks the
// same element as visiting the four in order), and every vector but the flat run's last is full:
// rows of 5 or 14 outputs (LeNet-5) no longer go through masked loads row by row.
template <bool Relu>
void max_pool_plane_2x2_pairs(const float* xp, float* yp, int64_t w, int64_t ho, int64_t wo) {
  const int64_t half = w / 2, pairs = 2 * ho * half;
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < pairs + 8) buffer.resize(static_cast<size_t>(pairs + 8));
  float* hp = buffer.data();  // 8 floats of slack: the rows' loads below may run past the last
  auto relu = [](__m256 v) { return Relu ? relu8(v) : v; };
  int64_t i = 0;
  for (; i + 8 <= pairs; i += 8) {
    __m256 a, b;
    split_even_odd(_mm256_loadu_ps(xp + 2 * i), _mm256_loadu_ps(xp + 2 * i + 8), a, b);
    _mm256_storeu_ps(hp + i, take_max(relu(a), relu(b)));
  }
  for (; i < pairs; ++i) {
    const float a = Relu ? relu_value(xp[2 * i]) : xp[2 * i], b = Relu ? relu_value(xp[2 * i + 1]) : xp[2 * i + 1];
    hp[i] = take_max(a, b);
  }
  for (int64_t oy = 0; oy < ho; ++oy) {
    const float* h0 = hp + 2 * oy * half;
    const float* h1 = h0 + half;
    float* y_row = yp + oy * wo;
    for (int64_t ox = 0; ox < wo; ox += 8) {
      simd::vstore_count(y_row + ox, wo - ox, take_max(_mm256_loadu_ps(h0 + ox), _mm256_loadu_ps(h1 + ox)));
    }
  }
}
#endif

// ap == nullptr: values only (inference), which skips the index stores. Relu: each input goes
// through relu_value first (values only).
template <bool Relu = false>
void max_pool_plane_2x2_stride2(const float* xp, float* yp, int32_t* ap, int64_t w, int64_t ho, int64_t wo) {
#if !defined(__AVX512F__) && defined(__AVX2__)
  if (ap == nullptr && w % 2 == 0) {
    max_pool_plane_2x2_pairs<Relu>(xp, yp, w, ho, wo);
    return;
  }
#endif
  for (int64_t oy = 0; oy < ho; ++oy) {
    const float* r0 = xp + 2 * oy * w;
    const float* r1 = r0 + w;
    const auto top = static_cast<int32_t>(2 * oy * w), bottom = static_cast<int32_t>(2 * oy * w + w);
    float* y_row = yp + oy * wo;
    int32_t* a_row = ap ? ap + oy * wo : nullptr;
#ifdef __AVX512F__
    for (int64_t ox = 0; ox < wo; ox += 16)
      max_pool_2x2_row16<Relu>(r0 + 2 * ox, r1 + 2 * ox, y_row + ox, a_row ? a_row + ox : nullptr, top, bottom,
                         static_cast<int32_t>(2 * ox), static_cast<int>(std::min<int64_t>(16, wo - ox)));
#elif defined(__AVX2__)
    for (int64_t ox = 0; ox < wo; ox += 8)
      max_pool_2x2_row8<Relu>(r0 + 2 * ox, r1 + 2 * ox, y_row + ox, a_row ? a_row + ox : nullptr, top, bottom,
                        static_cast<int32_t>(2 * ox), static_cast<int>(std::min<int64_t>(8, wo - ox)));
#else
    for (int64_t ox = 0; ox < wo; ++ox) {
      const auto col = static_cast<int32_t>(2 * ox);
      float best;
      int32_t arg;
      auto value = [](float v) { return Relu ? relu_value(v) : v; };
      max_pool_2x2_window(value(r0[col]), value(r0[col + 1]), value(r1[col]), value(r1[col + 1]), top + col,
                          top + col + 1, bottom + col, bottom + col + 1, best, arg);
      y_row[ox] = best;
      if (a_row) a_row[ox] = arg;
    }
#endif
  }
}

template <bool Relu = false>
void max_pool_plane(const float* xp, float* yp, int32_t* ap, const Pool2dShape& s, int64_t ho, int64_t wo) {
  auto value = [](float v) { return Relu ? relu_value(v) : v; };
  for (int64_t oy = 0; oy < ho; ++oy) {
    for (int64_t ox = 0; ox < wo; ++ox) {
      int64_t best_index = oy * s.stride * s.w + ox * s.stride;
      float best = value(xp[best_index]);
      for (int64_t ky = 0; ky < s.k; ++ky) {
        const int64_t row = (oy * s.stride + ky) * s.w + ox * s.stride;
        for (int64_t kx = 0; kx < s.k; ++kx) {
          const float v = value(xp[row + kx]);
          if (max_pool_takes(v, best)) best = v, best_index = row + kx;
        }
      }
      yp[oy * wo + ox] = best;
      if (ap) ap[oy * wo + ox] = static_cast<int32_t>(best_index);
    }
  }
}

}  // namespace

void max_pool_2x2_plane(const float* x, float* y, int64_t w, int64_t ho, int64_t wo, bool relu_first) {
  if (relu_first)
    max_pool_plane_2x2_stride2<true>(x, y, nullptr, w, ho, wo);
  else
    max_pool_plane_2x2_stride2(x, y, nullptr, w, ho, wo);
}

namespace {

// Max pool plane by plane (argmax nullable); ReluAfter: then ReLU on each plane's outputs while
// they are in L1, with argmax -1 where ReLU stops the gradient (max_pool2d_relu_forward).
template <bool ReluAfter>
void max_pool2d_planes(const float* x, float* y, int32_t* argmax, const Pool2dShape& s) {
  const int64_t planes = s.n * s.c, plane = s.h * s.w, ho = s.h_out(), wo = s.w_out();
  const bool two_by_two = s.k == 2 && s.stride == 2;
#pragma omp parallel for schedule(static) if (planes * plane >= kParallelMinElements)
  for (int64_t p = 0; p < planes; ++p) {
    float* yp = y + p * ho * wo;
    int32_t* ap = argmax ? argmax + p * ho * wo : nullptr;
    if (two_by_two)
      max_pool_plane_2x2_stride2(x + p * plane, yp, ap, s.w, ho, wo);
    else
      max_pool_plane(x + p * plane, yp, ap, s, ho, wo);
    if constexpr (ReluAfter)
      for (int64_t i = 0; i < ho * wo; ++i) {
        ap[i] = yp[i] > 0.0f ? ap[i] : -1;
        yp[i] = relu_value(yp[i]);
      }
  }
}

}  // namespace

void max_pool2d_forward(const float* x, float* y, int32_t* argmax, const Pool2dShape& s) {
  max_pool2d_planes<false>(x, y, argmax, s);
}

void relu_max_pool2d_forward(const float* x, float* y, const Pool2dShape& s, bool pool_first) {
  const int64_t planes = s.n * s.c, plane = s.h * s.w, ho = s.h_out(), wo = s.w_out();
  const bool two_by_two = s.k == 2 && s.stride == 2;
#pragma omp parallel for schedule(static) if (planes * plane >= kParallelMinElements)
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * plane;
    float* yp = y + p * ho * wo;
    if (pool_first) {  // the pool's values, then ReLU on them while they are in L1
      if (two_by_two)
        max_pool_plane_2x2_stride2(xp, yp, nullptr, s.w, ho, wo);
      else
        max_pool_plane(xp, yp, nullptr, s, ho, wo);
      for (int64_t i = 0; i < ho * wo; ++i) yp[i] = relu_value(yp[i]);
    } else if (two_by_two) {
      max_pool_plane_2x2_stride2<true>(xp, yp, nullptr, s.w, ho, wo);
    } else {
      max_pool_plane<true>(xp, yp, nullptr, s, ho, wo);
    }
  }
}

namespace {

#ifdef __AVX512F__
// The 2x2 stride-2 backward of up to 16 outputs of one output row: dx's two input rows (from
// r0, r1; 2*count floats each) written whole, each input the gradient of the output whose argmax
// it is or +0. Windows do not overlap, so every input has at most one such output; an argmax of
// -1 (ReLU stopped the gradient) matches none. Adding +0 lands a -0 gradient as +0, as the
// scatter's add into a zeroed plane does.
inline void max_unpool_2x2_row16(const float* dy, const int32_t* a, float* r0, float* r1, int32_t top, int32_t bottom,
                                 int32_t col0, int count) {
  const __mmask16 in = static_cast<__mmask16>(count >= 16 ? 0xFFFF : (1u << count) - 1);
  const __m512 zero = _mm512_setzero_ps();
  const __m512 d = _mm512_add_ps(_mm512_maskz_loadu_ps(in, dy), zero);
  const __m512i arg = _mm512_maskz_loadu_epi32(in, a);
  const __m512i cols = _mm512_add_epi32(_mm512_set1_epi32(col0), _mm512_slli_epi32(
                                            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1));
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i left0 = _mm512_add_epi32(cols, _mm512_set1_epi32(top));
  const __m512i left1 = _mm512_add_epi32(cols, _mm512_set1_epi32(bottom));
  const __m512 va = _mm512_maskz_mov_ps(_mm512_mask_cmpeq_epi32_mask(in, arg, left0), d);
  const __m512 vb = _mm512_maskz_mov_ps(_mm512_mask_cmpeq_epi32_mask(in, arg, _mm512_add_epi32(left0, one)), d);
  const __m512 vc = _mm512_maskz_mov_ps(_mm512_mask_cmpeq_epi32_mask(in, arg, left1), d);
  const __m512 vd = _mm512_maskz_mov_ps(_mm512_mask_cmpeq_epi32_mask(in, arg, _mm512_add_epi32(left1, one)), d);
  // Interleave (a0 b0 a1 b1 ...): the first 16 of the 2*count floats, then the rest.
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
  const int pairs = 2 * count;
  const __mmask16 first = static_cast<__mmask16>(pairs >= 16 ? 0xFFFF : (1u << pairs) - 1);
  const __mmask16 second = static_cast<__mmask16>(pairs <= 16 ? 0 : (1u << (pairs - 16)) - 1);
  _mm512_mask_storeu_ps(r0, first, _mm512_permutex2var_ps(va, lo, vb));
  _mm512_mask_storeu_ps(r1, first, _mm512_permutex2var_ps(vc, lo, vd));
  if (second) {
    _mm512_mask_storeu_ps(r0 + 16, second, _mm512_permutex2var_ps(va, hi, vb));
    _mm512_mask_storeu_ps(r1 + 16, second, _mm512_permutex2var_ps(vc, hi, vd));
  }
}

// One plane's 2x2 stride-2 backward, every input written once (no zero fill, no scatter).
void max_unpool_plane_2x2_stride2(const float* dyp, const int32_t* ap, float* dxp, int64_t h, int64_t w, int64_t ho,
                                  int64_t wo) {
  for (int64_t oy = 0; oy < ho; ++oy) {
    float* r0 = dxp + 2 * oy * w;
    float* r1 = r0 + w;
    const auto top = static_cast<int32_t>(2 * oy * w), bottom = static_cast<int32_t>(2 * oy * w + w);
    for (int64_t ox = 0; ox < wo; ox += 16)
      max_unpool_2x2_row16(dyp + oy * wo + ox, ap + oy * wo + ox, r0 + 2 * ox, r1 + 2 * ox, top, bottom,
                           static_cast<int32_t>(2 * ox), static_cast<int>(std::min<int64_t>(16, wo - ox)));
    if (w > 2 * wo) r0[w - 1] = r1[w - 1] = 0.0f;  // an odd width's last column: in no window
  }
  if (h > 2 * ho) std::fill(dxp + 2 * ho * w, dxp + h * w, 0.0f);  // an odd height's last row
}
#endif

// dx = zeros plus dy[o] at argmax[o], plane by plane; SkipNegative: outputs whose argmax is
// negative pass nothing (max_pool2d_relu_backward).
template <bool SkipNegative>
void max_pool2d_scatter(const float* dy, const int32_t* argmax, float* dx, const Pool2dShape& s) {
  const int64_t planes = s.n * s.c, plane = s.h * s.w, outs = s.h_out() * s.w_out();
#ifdef __AVX512F__
  // Rows of at least 8 outputs (half a vector); below that the scatter's few stores win (LeNet-5,
  // one thread, 32 images: 6x28x28 planes 38 -> 17 us, 16x10x10 planes 10 us scattered against 14).
  const bool two_by_two = s.k == 2 && s.stride == 2 && s.w_out() >= 8;
#endif
#pragma omp parallel for schedule(static) if (planes * plane >= kParallelMinElements)
  for (int64_t p = 0; p < planes; ++p) {
    float* dxp = dx + p * plane;
    const float* dyp = dy + p * outs;
    const int32_t* ap = argmax + p * outs;
#ifdef __AVX512F__
    if (two_by_two) {
      max_unpool_plane_2x2_stride2(dyp, ap, dxp, s.h, s.w, s.h_out(), s.w_out());
      continue;
    }
#endif
    std::fill(dxp, dxp + plane, 0.0f);
    // Overlapping windows (k > stride) can pick the same input twice, hence +=.
    for (int64_t o = 0; o < outs; ++o)
      if (!SkipNegative || ap[o] >= 0) dxp[ap[o]] += dyp[o];
  }
}

}  // namespace

void max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx, const Pool2dShape& s) {
  max_pool2d_scatter<false>(dy, argmax, dx, s);
}

void max_pool2d_relu_forward(const float* x, float* y, int32_t* argmax, const Pool2dShape& s) {
  max_pool2d_planes<true>(x, y, argmax, s);
}

void max_pool2d_relu_backward(const float* dy, const int32_t* argmax, float* dx, const Pool2dShape& s) {
  // Where ReLU stops the gradient the two-pass backward adds relu_backward's +0, which leaves any
  // sum started from +0 unchanged: skipping it gives the same bits.
  max_pool2d_scatter<true>(dy, argmax, dx, s);
}

void avg_pool2d_forward(const float* x, float* y, const Pool2dShape& s) {
  const int64_t planes = s.n * s.c, plane = s.h * s.w, ho = s.h_out(), wo = s.w_out();
  const auto window = static_cast<float>(s.k * s.k);
#pragma omp parallel for schedule(static) if (planes * plane >= kParallelMinElements)
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * plane;
    float* yp = y + p * ho * wo;
    for (int64_t oy = 0; oy < ho; ++oy) {
      for (int64_t ox = 0; ox < wo; ++ox) {
        const float* corner = xp + oy * s.stride * s.w + ox * s.stride;
        float sum = 0.0f;
        for (int64_t ky = 0; ky < s.k; ++ky)
          for (int64_t kx = 0; kx < s.k; ++kx) sum += corner[ky * s.w + kx];
        yp[oy * wo + ox] = sum / window;
      }
    }
  }
}

void avg_pool2d_backward(const float* dy, float* dx, const Pool2dShape& s) {
  const int64_t planes = s.n * s.c, plane = s.h * s.w, ho = s.h_out(), wo = s.w_out();
  const auto window = static_cast<float>(s.k * s.k);
#pragma omp parallel for schedule(static) if (planes * plane >= kParallelMinElements)
  for (int64_t p = 0; p < planes; ++p) {
    float* dxp = dx + p * plane;
    const float* dyp = dy + p * ho * wo;
    std::fill(dxp, dxp + plane, 0.0f);
    for (int64_t oy = 0; oy < ho; ++oy) {
      for (int64_t ox = 0; ox < wo; ++ox) {
        const float share = dyp[oy * wo + ox] / window;
        float* corner = dxp + oy * s.stride * s.w + ox * s.stride;
        for (int64_t ky = 0; ky < s.k; ++ky)
          for (int64_t kx = 0; kx < s.k; ++kx) corner[ky * s.w + kx] += share;
      }
    }
  }
}

namespace {
// Bin edges along one axis, computed once per call instead of once per output.
struct AdaptiveBins {
  std::vector<int64_t> start, end;
  AdaptiveBins(int64_t in, int64_t out) : start(out), end(out) {
    for (int64_t i = 0; i < out; ++i) start[i] = adaptive_bin_start(i, in, out), end[i] = adaptive_bin_end(i, in, out);
  }
};
}  // namespace

void adaptive_avg_pool2d_forward(const float* x, float* y, const AdaptivePool2dShape& s) {
  const int64_t planes = s.n * s.c, plane = s.h * s.w;
  const AdaptiveBins rows(s.h, s.oh), cols(s.w, s.ow);
#pragma omp parallel for schedule(static) if (planes * plane >= kParallelMinElements)
  for (int64_t p = 0; p < planes; ++p) {
    const float* xp = x + p * plane;
    float* yp = y + p * s.oh * s.ow;
    for (int64_t oy = 0; oy < s.oh; ++oy) {
      for (int64_t ox = 0; ox < s.ow; ++ox) {
        const int64_t x0 = cols.start[ox], x1 = cols.end[ox];
        float sum = 0.0f;
        for (int64_t iy = rows.start[oy]; iy < rows.end[oy]; ++iy) {
          const float* row = xp + iy * s.w;
#pragma omp simd reduction(+ : sum)
          for (int64_t ix = x0; ix < x1; ++ix) sum += row[ix];
        }
        yp[oy * s.ow + ox] = sum / static_cast<float>((rows.end[oy] - rows.start[oy]) * (x1 - x0));
      }
    }
  }
}

void adaptive_avg_pool2d_backward(const float* dy, float* dx, const AdaptivePool2dShape& s) {
  const int64_t planes = s.n * s.c, plane = s.h * s.w;
  const AdaptiveBins rows(s.h, s.oh), cols(s.w, s.ow);
#pragma omp parallel for schedule(static) if (planes * plane >= kParallelMinElements)
  for (int64_t p = 0; p < planes; ++p) {
    float* dxp = dx + p * plane;
    const float* dyp = dy + p * s.oh * s.ow;
    std::fill(dxp, dxp + plane, 0.0f);
    for (int64_t oy = 0; oy < s.oh; ++oy) {
      for (int64_t ox = 0; ox < s.ow; ++ox) {
        const int64_t x0 = cols.start[ox], x1 = cols.end[ox];
        const float share = dyp[oy * s.ow + ox] / static_cast<float>((rows.end[oy] - rows.start[oy]) * (x1 - x0));
        for (int64_t iy = rows.start[oy]; iy < rows.end[oy]; ++iy) {
          float* row = dxp + iy * s.w;
          for (int64_t ix = x0; ix < x1; ++ix) row[ix] += share;
        }
      }
    }
  }
}

}  // namespace stuckat::cpu
