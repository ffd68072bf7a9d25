// Bit-level widening of binary16/bfloat16 words; no hardware half support needed or assumed.
#include "framework/io/float16_words.h"

#include <cmath>
#include <cstring>

namespace stuckat {
namespace {
float float_from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
}  // namespace

float f16_word_to_float(uint16_t word) {
  const uint32_t sign = static_cast<uint32_t>(word >> 15) << 31;
  const uint32_t exponent = (word >> 10) & 0x1F;
  const uint32_t mantissa = word & 0x3FF;
  if (exponent == 0) {
    // Zero or subnormal: value = mantissa * 2^-24, exact in f32 (mantissa has 10 bits).
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1F) return float_from_bits(sign | 0x7F800000u | (mantissa << 13));  // inf/NaN
  // Normal: rebias the exponent from 15 to 127 and left-align the 10 mantissa bits in 23.
  return float_from_bits(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

float bf16_word_to_float(uint16_t word) { return float_from_bits(static_cast<uint32_t>(word) << 16); }

Tensor half_words_to_f32(const Tensor& t) {
  Tensor src = t.to(Device::CPU).contiguous();
  if (src.dtype() == DType::F32) return src.clone();
  STUCKAT_CHECK(src.dtype() == DType::F16 || src.dtype() == DType::BF16, "expected F16 or BF16, got {}",
                dtype_name(src.dtype()));
  Tensor out = Tensor::empty(src.shape(), DType::F32);
  const uint16_t* words = static_cast<const uint16_t*>(src.raw_data());
  float* dst = out.data<float>();
  const bool is_f16 = src.dtype() == DType::F16;
  for (int64_t i = 0, n = src.numel(); i < n; ++i)
    dst[i] = is_f16 ? f16_word_to_float(words[i]) : bf16_word_to_float(words[i]);
  return out;
}

}  // namespace stuckat
