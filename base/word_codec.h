// One weight <-> one 16-bit word, written so that the fast CPU loops and the CUDA kernels (the
// fused fault-aware update) compute bit-identical words. These are the fast formulas; the
// readable oracle is weight_codec_ref.cpp.
//
// Rounding: round half to EVEN everywhere (rintf in the default rounding mode; CUDA __float2int_rn
// and IEEE fp16 conversion use the same rule, as does torch.round), so ties such as 0.5 LSB go to
// the even word.
// Bit-exactness: the integer formats compute q = rint(fl32(w / step)) — one correctly rounded f32
// division, no multiply feeding an add — and decode value = fl32(int * step), one multiply. No
// expression has the a*b+c shape, so FMA contraction (-march=native on the CPU, nvcc's default
// on the GPU) cannot change a result; this file needs no -ffp-contract flag. fp16 is integer
// bit manipulation plus one exact-by-construction f32 add for subnormals.
// Saturation: a value beyond the representable range becomes the nearest end (fixed, maxabs,
// signmag) or infinity (fp16, as IEEE rounding does); NaN becomes word 0 in the integer formats
// and a quiet NaN in fp16. `saturated` reports values that were not representable: out of range
// or NaN/inf for the integer formats, finite values that overflow to inf for fp16.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "base/weight_format.h"
#include "base/host_device.h"

namespace stuckat {

STUCKAT_HD inline uint32_t f32_bits(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}
STUCKAT_HD inline float f32_from_bits(uint32_t u) {
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

// Two's complement word of rint(w / step), saturated to [-32768, 32767]; NaN -> 0.
STUCKAT_HD inline uint16_t encode_twos_word(float w, float step, bool* saturated) {
  float r = rintf(w / step);
  // `&`, not `&&`: no short-circuit branch, so the CPU loop vectorises. NaN compares false.
  *saturated = !((r >= -32768.0f) & (r <= 32767.0f));
  float c = r < -32768.0f ? -32768.0f : r;
  c = c > 32767.0f ? 32767.0f : c;
  c = c == c ? c : 0.0f;
  return static_cast<uint16_t>(static_cast<int32_t>(c));  // modulo 2^16: the two's complement bits
}

STUCKAT_HD inline float decode_twos_word(uint16_t word, float step) {
  return static_cast<float>(static_cast<int16_t>(word)) * step;
}

// Sign-magnitude: magnitude rint(|w| / step) saturated to 32767; the sign bit is set only for a
// nonzero magnitude (every zero encodes as 0x0000); NaN -> 0.
STUCKAT_HD inline uint16_t encode_signmag_word(float w, float step, bool* saturated) {
  float r = rintf(fabsf(w) / step);
  *saturated = !(r <= 32767.0f);
  float c = r > 32767.0f ? 32767.0f : r;
  c = c == c ? c : 0.0f;
  uint32_t mag = static_cast<uint32_t>(static_cast<int32_t>(c));
  // The f32 sign bit equals (w < 0) whenever mag != 0 (-0 and NaN have mag 0).
  uint32_t sign = mag != 0u ? (f32_bits(w) >> 16) & 0x8000u : 0u;
  return static_cast<uint16_t>(sign | mag);
}

STUCKAT_HD inline float decode_signmag_word(uint16_t word, float step) {
  float v = static_cast<float>(word & 0x7FFFu) * step;
  return (word & 0x8000u) ? -v : v;
}

// IEEE binary16, round half to even; overflow -> inf; NaN -> quiet NaN 0x7E00 with the sign.
STUCKAT_HD inline uint16_t encode_fp16_word(float w, bool* saturated) {
  uint32_t x = f32_bits(w);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7FFFFFFFu;
  uint32_t h;
  *saturated = false;
  if (ax >= 0x7F800000u) {
    h = ax > 0x7F800000u ? 0x7E00u : 0x7C00u;
  } else if (ax >= 0x477FF000u) {  // >= 65520 = halfway between 65504 and 2^16: rounds to inf
    h = 0x7C00u;
    *saturated = true;
  } else if (ax >= 0x38800000u) {  // >= 2^-14: normal half
    uint32_t r = ax - 0x38000000u;  // rebias the exponent from 127 to 15
    r += 0x0FFFu + ((r >> 13) & 1u);  // round the 13 dropped bits, ties to even
    h = r >> 13;
  } else {
    // Subnormal half: adding 0.5 puts the value's 2^-24 units in the low mantissa bits of an f32
    // whose ulp is exactly 2^-24, and the f32 add rounds half to even for us.
    h = f32_bits(f32_from_bits(ax) + 0.5f) - 0x3F000000u;
  }
  return static_cast<uint16_t>(sign | h);
}

// binary16 -> f32, exact; NaN keeps its payload and becomes quiet.
STUCKAT_HD inline float decode_fp16_word(uint16_t word) {
  uint32_t sign = static_cast<uint32_t>(word & 0x8000u) << 16;
  uint32_t exp = (word >> 10) & 0x1Fu;
  uint32_t mant = word & 0x3FFu;
  if (exp == 0) {
    float v = static_cast<float>(mant) * 5.9604644775390625e-8f;  // mant * 2^-24, exact
    return f32_from_bits(f32_bits(v) | sign);
  }
  if (exp == 31) return f32_from_bits(sign | 0x7F800000u | (mant ? 0x00400000u : 0u) | (mant << 13));
  return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
}

// Dispatch on the format kind; `step` is WeightFormat::step() of the resolved layer format
// (computed once on the host). Kind None is a caller bug and yields word 0 / value 0.
STUCKAT_HD inline uint16_t encode_word(float w, WeightFormatKind kind, float step, bool* saturated) {
  switch (kind) {
    case WeightFormatKind::Fixed:
    case WeightFormatKind::MaxAbs: return encode_twos_word(w, step, saturated);
    case WeightFormatKind::SignMag: return encode_signmag_word(w, step, saturated);
    case WeightFormatKind::Fp16: return encode_fp16_word(w, saturated);
    case WeightFormatKind::None: break;
  }
  *saturated = false;
  return 0;
}

STUCKAT_HD inline float decode_word(uint16_t word, WeightFormatKind kind, float step) {
  switch (kind) {
    case WeightFormatKind::Fixed:
    case WeightFormatKind::MaxAbs: return decode_twos_word(word, step);
    case WeightFormatKind::SignMag: return decode_signmag_word(word, step);
    case WeightFormatKind::Fp16: return decode_fp16_word(word);
    case WeightFormatKind::None: break;
  }
  return 0.0f;
}

}  // namespace stuckat
