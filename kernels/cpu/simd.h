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
