// WeightFormat: how a float weight becomes the 16-bit word that a ReRAM crossbar stores, so
// stuck-at faults can act on real bit positions (bit 0 = LSB, bit 15 = MSB).
//
// Formats (all words are 16 bits):
//   fixed   "q<I>.<F>", I + F = 15: two's complement, value = int16(word) * 2^-F.
//           Default q4.11: LSB 2^-11, range [-16, 16 - 2^-11].
//   maxabs  two's complement, value = int16(word) * scale, scale = max|w| / 32767 of the layer,
//           computed once per layer on the host (resolve_layer_format).
//   signmag bit 15 = sign, bits 0..14 = magnitude * 2^-F (default F = 11); +0 is 0x0000 and
//           0x8000 decodes to -0.0.
//   fp16    IEEE 754 binary16 words.
//   none    weights stay f32 (no words; faults cannot be injected).
//
// A WeightFormat is plain data (no pointers, no strings) so it can be passed by value to a CUDA
// kernel and the same word formulas (word_codec.h) run there.
#pragma once
#include <cstdint>
#include <string>

namespace stuckat {

enum class WeightFormatKind : uint8_t { None, Fixed, MaxAbs, SignMag, Fp16 };

struct WeightFormat {
  WeightFormatKind kind = WeightFormatKind::Fixed;
  int frac_bits = 11;  // Fixed and SignMag: F (integer bits = 15 - F)
  float scale = 0.0f;  // MaxAbs only: value of one LSB for this layer; 0 = not resolved yet

  bool is_none() const { return kind == WeightFormatKind::None; }
  // Value of one LSB for the integer formats (Fixed, SignMag: 2^-F; MaxAbs: scale); 0 for fp16/none.
  float step() const;
};

// Parses the --quant spellings: "q4.11" (any q<I>.<F> with I + F = 15, I >= 0, F >= 0),
// "maxabs", "signmag" (F = 11), "fp16", "none"; case-insensitive. Anything else throws
// InputError naming `flag` (the flag that gave the text) and the valid forms.
WeightFormat parse_weight_format(const std::string& text, const char* flag = "--quant");

// Canonical spelling, the inverse of parse_weight_format ("q4.11", "maxabs", ...).
std::string weight_format_name(const WeightFormat& f);

// The format to use for one layer's weights w[0..n): for maxabs, scale = max|w| / 32767 over
// the finite weights (1.0 when there are none or all are zero, so every word is 0 and decode
// stays finite); other formats are returned unchanged.
WeightFormat resolve_layer_format(const WeightFormat& f, const float* w, int64_t n);

}  // namespace stuckat
