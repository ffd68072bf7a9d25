// Dequantize-then-compute references for the 16-bit-word layers: deliberately the two obvious
// steps, so the CUDA kernels that fuse them have an oracle.
#include "kernels/cpu/quantized_layers.h"

#include <vector>

#include "base/word_codec.h"

namespace stuckat::cpu {

void dequantize_words_ref(const uint16_t* words, int64_t n, WeightFormatKind kind, float step, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = decode_word(words[i], kind, step);
}

void conv2d_words_forward_ref(const float* x, const uint16_t* words, WeightFormatKind kind, float step, const float* b,
                              float* y, const Conv2dShape& s) {
  std::vector<float> w(static_cast<size_t>(s.c_out * s.c_in * s.kh * s.kw));
  dequantize_words_ref(words, static_cast<int64_t>(w.size()), kind, step, w.data());
  conv2d_forward_ref(x, w.data(), b, y, s);
}

void linear_words_forward_ref(const float* x, const uint16_t* words, WeightFormatKind kind, float step, const float* b,
                              float* y, const LinearShape& s) {
  std::vector<float> w(static_cast<size_t>(s.out * s.in));
  dequantize_words_ref(words, static_cast<int64_t>(w.size()), kind, step, w.data());
  linear_forward_ref(x, w.data(), b, y, s);
}

}  // namespace stuckat::cpu
