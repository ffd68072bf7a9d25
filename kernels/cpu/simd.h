// Private to kernels/cpu: the float vector the direct kernels are written in (conv2d_direct.cpp,
// conv2d_weight_tiles.cpp). With AVX-512 it is one zmm register of 16 lanes (32 registers);
// with AVX2 + FMA (AMD Zen 1-3, Intel Haswell to Comet Lake) one ymm of 8 lanes (16 registers).
// The kernels size their register tiles from kVectorRegisters and their layouts from kLanes, so
// one source serves both. STUCKAT_SIMD is defined when either is available; without it the
// callers fall back to im2col + GEMM.
#pragma once

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#define STUCKAT_SIMD 1
#include <immintrin.h>

#include <cstdint>

namespace stuckat::cpu::simd {

#if defined(__AVX512F__)

using vfloat = __m512;
using LaneMask = __mmask16;  // lane i is bit i
constexpr int64_t kLanes = 16;
constexpr int kVectorRegisters = 32;

inline LaneMask first_lanes(int64_t count) {  // the first clamp(count, 0, 16) lanes
  if (count <= 0) return 0;
  return count >= 16 ? static_cast<LaneMask>(0xFFFF) : static_cast<LaneMask>((1u << count) - 1u);
}
inline vfloat vload(const float* p) { return _mm512_loadu_ps(p); }
inline vfloat vload_first(LaneMask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }  // others 0
inline void vstore(float* p, vfloat v) { _mm512_storeu_ps(p, v); }
// The first clamp(count, 0, 16) lanes of v to p.
inline void vstore_count(float* p, int64_t count, vfloat v) { _mm512_mask_storeu_ps(p, first_lanes(count), v); }
inline vfloat vset1(float x) { return _mm512_set1_ps(x); }
inline vfloat vzero() { return _mm512_setzero_ps(); }
inline vfloat vfmadd(vfloat a, vfloat b, vfloat c) { return _mm512_fmadd_ps(a, b, c); }
inline vfloat vadd(vfloat a, vfloat b) { return _mm512_add_ps(a, b); }
// Lanes p[0], p[kLanes], p[2 * kLanes], ...: column of a kLanes x kLanes block.
inline vfloat vcolumn(const float* p) {
  const __m512i rows = _mm512_set_epi32(240, 224, 208, 192, 176, 160, 144, 128, 112, 96, 80, 64, 48, 32, 16, 0);
  // The masked form: GCC 12's plain _mm512_i32gather_ps warns of an uninitialised source.
  return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), static_cast<__mmask16>(0xFFFF), rows, p, 4);
}
// Lanes p[0], p[stride], p[2 * stride], ... (stride * (kLanes - 1) must fit in 31 bits).
using LaneIndex = __m512i;
inline LaneIndex lane_strides(int32_t stride) {
  return _mm512_mullo_epi32(_mm512_set1_epi32(stride),
                            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
}
inline vfloat vgather(const float* p, LaneIndex index) {
  return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), static_cast<__mmask16>(0xFFFF), index, p, 4);
}
inline vfloat vsub(vfloat a, vfloat b) { return _mm512_sub_ps(a, b); }
inline vfloat vmul(vfloat a, vfloat b) { return _mm512_mul_ps(a, b); }
// v[i] lane j <- v[j] lane i: a kLanes x kLanes block transposed in registers (pairs of lanes,
// then pairs of pairs, then 128-bit quarters twice). The zero-masked forms with every lane kept:
// GCC 12's plain forms trip -Wmaybe-uninitialized inside its own header (bug 105593, as above).
inline void transpose_lanes(vfloat v[16]) {
  constexpr __mmask16 all = 0xFFFF;
  constexpr __mmask8 all_pairs = 0xFF;
  __m512 t[16];
  for (int i = 0; i < 16; i += 2)
    t[i] = _mm512_maskz_unpacklo_ps(all, v[i], v[i + 1]), t[i + 1] = _mm512_maskz_unpackhi_ps(all, v[i], v[i + 1]);
  for (int i = 0; i < 16; i += 4) {  // v[i + j]: columns j, 4 + j, 8 + j, 12 + j of rows i .. i + 3
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]), c = _mm512_castps_pd(t[i + 2]),
                  d = _mm512_castps_pd(t[i + 3]);
    v[i] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(all_pairs, a, c));
    v[i + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(all_pairs, a, c));
    v[i + 2] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(all_pairs, b, d));
    v[i + 3] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(all_pairs, b, d));
  }
  for (int j = 0; j < 4; ++j) {
    const __m512 even_lo = _mm512_maskz_shuffle_f32x4(all, v[j], v[4 + j], 0x88),
                 odd_lo = _mm512_maskz_shuffle_f32x4(all, v[j], v[4 + j], 0xdd),
                 even_hi = _mm512_maskz_shuffle_f32x4(all, v[8 + j], v[12 + j], 0x88),
                 odd_hi = _mm512_maskz_shuffle_f32x4(all, v[8 + j], v[12 + j], 0xdd);
    t[j] = _mm512_maskz_shuffle_f32x4(all, even_lo, even_hi, 0x88);
    t[8 + j] = _mm512_maskz_shuffle_f32x4(all, even_lo, even_hi, 0xdd);
    t[4 + j] = _mm512_maskz_shuffle_f32x4(all, odd_lo, odd_hi, 0x88);
    t[12 + j] = _mm512_maskz_shuffle_f32x4(all, odd_lo, odd_hi, 0xdd);
  }
  for (int i = 0; i < 16; ++i) v[i] = t[i];
}

#else  // AVX2 + FMA

using vfloat = __m256;
using LaneMask = __m256i;  // lane i all ones when selected
constexpr int64_t kLanes = 8;
constexpr int kVectorRegisters = 16;

inline LaneMask first_lanes(int64_t count) {  // the first clamp(count, 0, 8) lanes
  const int n = count <= 0 ? 0 : count >= 8 ? 8 : static_cast<int>(count);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline vfloat vload(const float* p) { return _mm256_loadu_ps(p); }
// Masked-off lanes are neither read (no fault past an array's end) nor written.
inline vfloat vload_first(LaneMask m, const float* p) { return _mm256_maskload_ps(p, m); }  // others 0
inline void vstore(float* p, vfloat v) { _mm256_storeu_ps(p, v); }
// The first clamp(count, 0, 8) lanes of v to p: a plain store when all 8, else through a buffer
// (vmaskmovps stores are slow on AMD Zen 3: a 2x2 max pool over 28-pixel rows ran 2.6x faster).
inline void vstore_count(float* p, int64_t count, vfloat v) {
  if (count >= 8) {
    _mm256_storeu_ps(p, v);
    return;
  }
  alignas(32) float part[8];
  _mm256_store_ps(part, v);
  for (int64_t i = 0; i < count; ++i) p[i] = part[i];
}
inline vfloat vset1(float x) { return _mm256_set1_ps(x); }
inline vfloat vzero() { return _mm256_setzero_ps(); }
inline vfloat vfmadd(vfloat a, vfloat b, vfloat c) { return _mm256_fmadd_ps(a, b, c); }
inline vfloat vadd(vfloat a, vfloat b) { return _mm256_add_ps(a, b); }
inline vfloat vcolumn(const float* p) {
  return _mm256_i32gather_ps(p, _mm256_setr_epi32(0, 8, 16, 24, 32, 40, 48, 56), 4);
}
using LaneIndex = __m256i;
inline LaneIndex lane_strides(int32_t stride) {
  return _mm256_mullo_epi32(_mm256_set1_epi32(stride), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline vfloat vgather(const float* p, LaneIndex index) { return _mm256_i32gather_ps(p, index, 4); }
inline vfloat vsub(vfloat a, vfloat b) { return _mm256_sub_ps(a, b); }
inline vfloat vmul(vfloat a, vfloat b) { return _mm256_mul_ps(a, b); }
inline void transpose_lanes(vfloat v[8]) {
  __m256 t[8];
  for (int i = 0; i < 8; i += 2)
    t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]), t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
  for (int i = 0; i < 8; i += 4) {  // v[i + j]: columns j, 4 + j of rows i .. i + 3
    const __m256d a = _mm256_castps_pd(t[i]), b = _mm256_castps_pd(t[i + 1]), c = _mm256_castps_pd(t[i + 2]),
                  d = _mm256_castps_pd(t[i + 3]);
    v[i] = _mm256_castpd_ps(_mm256_unpacklo_pd(a, c)), v[i + 1] = _mm256_castpd_ps(_mm256_unpackhi_pd(a, c));
    v[i + 2] = _mm256_castpd_ps(_mm256_unpacklo_pd(b, d)), v[i + 3] = _mm256_castpd_ps(_mm256_unpackhi_pd(b, d));
  }
  for (int j = 0; j < 4; ++j) {
    t[j] = _mm256_permute2f128_ps(v[j], v[4 + j], 0x20), t[4 + j] = _mm256_permute2f128_ps(v[j], v[4 + j], 0x31);
  }
  for (int i = 0; i < 8; ++i) v[i] = t[i];
}

#endif

// Sum of the lanes in a fixed order, lane 0 first. (GCC 12's _mm512_reduce_add_ps trips
// -Wuninitialized inside its own header, GCC bug 105593.)
inline float lane_sum(vfloat v) {
  alignas(64) float lanes[kLanes];
  vstore(lanes, v);
  float sum = 0.0f;
  for (int64_t i = 0; i < kLanes; ++i) sum += lanes[i];
  return sum;
}

}  // namespace stuckat::cpu::simd

#endif
