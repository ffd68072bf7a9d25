// 16-bit floating-point words (IEEE binary16 "F16" and bfloat16 "BF16") widened to f32, so that
// checkpoints exported in half precision load into f32 models. Tensors of dtype F16/BF16 hold the
// raw words (uint16_t bit patterns); these functions give their exact f32 values.
#pragma once
#include <cstdint>

#include "framework/tensor.h"

namespace stuckat {

// Exact: every binary16 value (normal, subnormal, +-0, +-inf) is representable in f32.
// NaN stays NaN with its payload shifted into the f32 mantissa's top bits.
float f16_word_to_float(uint16_t word);

// bfloat16 is the top half of an f32, so widening is a 16-bit shift (exact, NaN included).
float bf16_word_to_float(uint16_t word);

// A contiguous f32 CPU copy of an F16, BF16 or F32 tensor (on any device).
Tensor half_words_to_f32(const Tensor& t);

}  // namespace stuckat
