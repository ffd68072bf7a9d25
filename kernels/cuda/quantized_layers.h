// conv2d and linear forward (inference) that read the weights as 16-bit words and decode them
// inside the kernel (faults/word_codec.h: value = int16(word) * step for fixed point and max-abs,
// also sign-magnitude and fp16), so a faulty or quantized model runs without materialising float
// weights. Same shapes as kernels/cpu/quantized_layers.h (the oracle); device pointers.
#pragma once
#include <cstdint>

#include "faults/weight_format.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/linear.h"

namespace stuckat::cuda {

void dequantize_words(const uint16_t* words, int64_t n, WeightFormatKind kind, float step, float* out);
void conv2d_words_forward(const float* x, const uint16_t* words, WeightFormatKind kind, float step, const float* b,
                          float* y, const cpu::Conv2dShape& s);
void linear_words_forward(const float* x, const uint16_t* words, WeightFormatKind kind, float step, const float* b,
                          float* y, const cpu::LinearShape& s);

}  // namespace stuckat::cuda
