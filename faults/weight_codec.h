// Whole-array conversion between f32 weights and 16-bit words in a WeightFormat: a readable
// reference (the test oracle) and a fast OpenMP/SIMD version with the same signature that must
// agree with it bit for bit (tests/test_faults.cpp). Rounding, saturation and NaN rules are those
// of word_codec.h.
#pragma once
#include <cstdint>

#include "base/weight_format.h"

namespace stuckat {

// w: n f32 weights -> words: n 16-bit words. `f` must be resolved for this layer
// (resolve_layer_format) and not None. Returns how many weights saturated (were not representable).
int64_t encode_weights_ref(const float* w, uint16_t* words, int64_t n, const WeightFormat& f);
// words: n 16-bit words -> w: n f32 values.
void decode_weights_ref(const uint16_t* words, float* w, int64_t n, const WeightFormat& f);

int64_t encode_weights(const float* w, uint16_t* words, int64_t n, const WeightFormat& f);
void decode_weights(const uint16_t* words, float* w, int64_t n, const WeightFormat& f);

}  // namespace stuckat
