// Reference encode/decode: the definitions written out plainly (branches, frexp/ldexp in double)
// and independently of the bit tricks in word_codec.h, so the two check each other.
#include <cmath>
#include <cstring>

#include "faults/weight_codec.h"
#include "base/error.h"

namespace stuckat {
namespace {

void check_format(const WeightFormat& f) {
  STUCKAT_CHECK(f.kind != WeightFormatKind::None, "weight format 'none' has no 16-bit words");
  STUCKAT_CHECK(f.kind != WeightFormatKind::MaxAbs || f.scale > 0.0f,
                "maxabs format used before resolve_layer_format set its scale");
}

uint16_t twos_ref(float w, float step, bool* saturated) {
  float q = w / step;  // one f32 division, as the device computes it
  if (std::isnan(q)) {
    *saturated = true;
    return 0;
  }
  float r = std::nearbyint(q);  // default rounding mode: half to even
  *saturated = false;
  if (r > 32767.0f) {
    r = 32767.0f;
    *saturated = true;
  } else if (r < -32768.0f) {
    r = -32768.0f;
    *saturated = true;
  }
  int16_t i = static_cast<int16_t>(r);
  uint16_t word;
  std::memcpy(&word, &i, sizeof word);
  return word;
}

uint16_t signmag_ref(float w, float step, bool* saturated) {
  if (std::isnan(w)) {
    *saturated = true;
    return 0;
  }
  float r = std::nearbyint(std::fabs(w) / step);
  *saturated = false;
  if (r > 32767.0f) {
    r = 32767.0f;
    *saturated = true;
  }
  uint16_t mag = static_cast<uint16_t>(r);
  if (mag == 0) return 0;  // one zero: +0
  return static_cast<uint16_t>((w < 0.0f ? 0x8000u : 0u) | mag);
}

uint16_t fp16_ref(float w, bool* saturated) {
  *saturated = false;
  uint16_t sign = std::signbit(w) ? 0x8000 : 0;
  if (std::isnan(w)) return sign | 0x7E00;
  double a = std::fabs(static_cast<double>(w));
  if (std::isinf(a)) return sign | 0x7C00;
  if (a < std::ldexp(1.0, -14)) {
    // Subnormal: a count of 2^-24 units; 1024 units is the smallest normal, word 0x0400.
    return sign | static_cast<uint16_t>(std::nearbyint(a * std::ldexp(1.0, 24)));
  }
  int e = 0;
  double m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
  int exponent = e - 1;          // a = (2m) * 2^exponent, 2m in [1, 2)
  double fraction = std::nearbyint((2.0 * m - 1.0) * 1024.0);  // exact product, half-even rounding
  if (fraction == 1024.0) {
    fraction = 0.0;
    ++exponent;
  }
  if (exponent > 15) {
    *saturated = true;
    return sign | 0x7C00;
  }
  return sign | static_cast<uint16_t>(((exponent + 15) << 10) | static_cast<int>(fraction));
}

float fp16_value_ref(uint16_t word) {
  bool negative = word & 0x8000;
  int exp = (word >> 10) & 0x1F;
  int mant = word & 0x3FF;
  if (exp == 31 && mant != 0) {
    // Quiet NaN carrying the half's payload in the top mantissa bits.
    uint32_t bits = (negative ? 0x80000000u : 0u) | 0x7FC00000u | (static_cast<uint32_t>(mant) << 13);
    float v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  double magnitude = exp == 31 ? INFINITY
                     : exp == 0 ? std::ldexp(static_cast<double>(mant), -24)
                                : std::ldexp(static_cast<double>(1024 + mant), exp - 25);
  return static_cast<float>(negative ? -magnitude : magnitude);
}

}  // namespace

int64_t encode_weights_ref(const float* w, uint16_t* words, int64_t n, const WeightFormat& f) {
  check_format(f);
  const float step = f.step();
  int64_t saturated = 0;
  for (int64_t i = 0; i < n; ++i) {
    bool sat = false;
    switch (f.kind) {
      case WeightFormatKind::Fixed:
      case WeightFormatKind::MaxAbs: words[i] = twos_ref(w[i], step, &sat); break;
      case WeightFormatKind::SignMag: words[i] = signmag_ref(w[i], step, &sat); break;
      case WeightFormatKind::Fp16: words[i] = fp16_ref(w[i], &sat); break;
      case WeightFormatKind::None: break;
    }
    saturated += sat ? 1 : 0;
  }
  return saturated;
}

void decode_weights_ref(const uint16_t* words, float* w, int64_t n, const WeightFormat& f) {
  check_format(f);
  const float step = f.step();
  for (int64_t i = 0; i < n; ++i) {
    switch (f.kind) {
      case WeightFormatKind::Fixed:
      case WeightFormatKind::MaxAbs: {
        int16_t v;
        std::memcpy(&v, &words[i], sizeof v);
        w[i] = static_cast<float>(v) * step;
        break;
      }
      case WeightFormatKind::SignMag: {
        float magnitude = static_cast<float>(words[i] & 0x7FFF) * step;
        w[i] = (words[i] & 0x8000) ? -magnitude : magnitude;
        break;
      }
      case WeightFormatKind::Fp16: w[i] = fp16_value_ref(words[i]); break;
      case WeightFormatKind::None: break;
    }
  }
}

}  // namespace stuckat
