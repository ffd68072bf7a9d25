// Reference (test oracle) for the layers that read 16-bit weight words: dequantize every word
// with base/word_codec.h's decode_word (value = int16(word) * step for the fixed-point and
// max-abs formats), then run the plain float conv2d/linear reference. The CUDA kernels
// (kernels/cuda/quantized_layers.h) decode inside the kernel and must give the same values.
//   words: the layer's weights as 16-bit words, same layout as the float weights
//   kind, step: the layer's resolved format (WeightFormat::kind, WeightFormat::step())
#pragma once
#include <cstdint>

#include "base/weight_format.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/linear.h"

namespace stuckat::cpu {

void dequantize_words_ref(const uint16_t* words, int64_t n, WeightFormatKind kind, float step, float* out);
void conv2d_words_forward_ref(const float* x, const uint16_t* words, WeightFormatKind kind, float step, const float* b,
                              float* y, const Conv2dShape& s);
void linear_words_forward_ref(const float* x, const uint16_t* words, WeightFormatKind kind, float step, const float* b,
                              float* y, const LinearShape& s);

}  // namespace stuckat::cpu
