// Fast encode/decode: one loop per format (the switch stays outside, so each loop vectorises)
// over the word_codec.h formulas, split across OpenMP threads for large layers.
#include "faults/weight_codec.h"

#include "base/word_codec.h"
#include "base/error.h"

namespace stuckat {
namespace {

// Below this many weights (a few tens of microseconds of work) starting a thread team is not worth it.
constexpr int64_t kParallelMin = 1 << 15;

void check_format(const WeightFormat& f) {
  STUCKAT_CHECK(f.kind != WeightFormatKind::None, "weight format 'none' has no 16-bit words");
  STUCKAT_CHECK(f.kind != WeightFormatKind::MaxAbs || f.scale > 0.0f,
                "maxabs format used before resolve_layer_format set its scale");
}

template <typename Encode> int64_t encode_loop(const float* w, uint16_t* words, int64_t n, Encode encode) {
  // Saturations are summed in 32-bit lanes per block (same width as the f32 lanes, so the simd
  // loop stays one vector type) and widened per block.
  constexpr int64_t kBlock = 1 << 16;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  int64_t saturated = 0;
#pragma omp parallel for schedule(static) reduction(+ : saturated) if (n >= kParallelMin)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t begin = b * kBlock, end = begin + kBlock < n ? begin + kBlock : n;
    int32_t block_saturated = 0;
#pragma omp simd reduction(+ : block_saturated)
    for (int64_t i = begin; i < end; ++i) {
      bool sat;
      words[i] = encode(w[i], &sat);
      block_saturated += sat ? 1 : 0;
    }
    saturated += block_saturated;
  }
  return saturated;
}

template <typename Decode> void decode_loop(const uint16_t* words, float* w, int64_t n, Decode decode) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) w[i] = decode(words[i]);
}

}  // namespace

int64_t encode_weights(const float* w, uint16_t* words, int64_t n, const WeightFormat& f) {
  check_format(f);
  const float step = f.step();
  switch (f.kind) {
    case WeightFormatKind::Fixed:
    case WeightFormatKind::MaxAbs:
      return encode_loop(w, words, n, [step](float x, bool* s) { return encode_twos_word(x, step, s); });
    case WeightFormatKind::SignMag:
      return encode_loop(w, words, n, [step](float x, bool* s) { return encode_signmag_word(x, step, s); });
    case WeightFormatKind::Fp16: return encode_loop(w, words, n, [](float x, bool* s) { return encode_fp16_word(x, s); });
    case WeightFormatKind::None: break;
  }
  return 0;
}

void decode_weights(const uint16_t* words, float* w, int64_t n, const WeightFormat& f) {
  check_format(f);
  const float step = f.step();
  switch (f.kind) {
    case WeightFormatKind::Fixed:
    case WeightFormatKind::MaxAbs:
      decode_loop(words, w, n, [step](uint16_t x) { return decode_twos_word(x, step); });
      break;
    case WeightFormatKind::SignMag:
      decode_loop(words, w, n, [step](uint16_t x) { return decode_signmag_word(x, step); });
      break;
    case WeightFormatKind::Fp16: decode_loop(words, w, n, [](uint16_t x) { return decode_fp16_word(x); }); break;
    case WeightFormatKind::None: break;
  }
}

}  // namespace stuckat
