// conv2d and linear forward (inference) that read the weights as 16-bit words and decode them
// inside the kernel (base/word_codec.h: value = int16(word) * step for fixed point and max-abs,
// also sign-magnitude and fp16), so a faulty or quantized model runs without materialising float
// weights. Same shapes as kernels/cpu/quantized_layers.h (the oracle); device pointers.
#pragma once
#include <cstdint>

#include "base/weight_format.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/linear.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API void dequantize_words(const uint16_t* words, int64_t n, WeightFormatKind kind, float step, float* out) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void conv2d_words_forward(const float* x, const uint16_t* words, WeightFormatKind kind, float step, const float* b,
                                           float* y, const cpu::Conv2dShape& s) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void linear_words_forward(const float* x, const uint16_t* words, WeightFormatKind kind, float step, const float* b,
                                           float* y, const cpu::LinearShape& s) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
