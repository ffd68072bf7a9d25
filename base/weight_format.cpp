// Parsing and naming of the --quant formats, and the per-layer max-abs scale.
#include "base/weight_format.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "base/error.h"

namespace stuckat {
namespace {

constexpr const char* kValidForms = "q4.11 (or any q<I>.<F> with I+F = 15), maxabs, signmag, fp16 or none";

// Parses a non-empty run of decimal digits (at most two, enough for 0..15).
bool parse_small_int(const std::string& s, int* out) {
  if (s.empty() || s.size() > 2) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  *out = std::stoi(s);
  return true;
}

}  // namespace

float WeightFormat::step() const {
  switch (kind) {
    case WeightFormatKind::Fixed:
    case WeightFormatKind::SignMag: return std::ldexp(1.0f, -frac_bits);
    case WeightFormatKind::MaxAbs: return scale;
    case WeightFormatKind::Fp16:
    case WeightFormatKind::None: return 0.0f;
  }
  return 0.0f;
}

WeightFormat parse_weight_format(const std::string& text, const char* flag) {
  std::string s = text;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  WeightFormat f;
  if (s == "none") {
    f.kind = WeightFormatKind::None;
    return f;
  }
  if (s == "maxabs") {
    f.kind = WeightFormatKind::MaxAbs;
    return f;
  }
  if (s == "signmag") {
    f.kind = WeightFormatKind::SignMag;
    f.frac_bits = 11;
    return f;
  }
  if (s == "fp16") {
    f.kind = WeightFormatKind::Fp16;
    return f;
  }
  if (s.size() >= 4 && s[0] == 'q') {
    size_t dot = s.find('.');
    int int_bits = 0, frac_bits = 0;
    if (dot != std::string::npos && parse_small_int(s.substr(1, dot - 1), &int_bits) &&
        parse_small_int(s.substr(dot + 1), &frac_bits)) {
      if (int_bits + frac_bits != 15)
        throw_input_error("{} {} has {} integer + {} fraction bits, but a 16-bit word leaves 15 beside the sign bit; expected {}",
                          flag, text, int_bits, frac_bits, kValidForms);
      f.kind = WeightFormatKind::Fixed;
      f.frac_bits = frac_bits;
      return f;
    }
  }
  throw_input_error("{} '{}' is not a weight format; expected {}", flag, text, kValidForms);
}

std::string weight_format_name(const WeightFormat& f) {
  switch (f.kind) {
    case WeightFormatKind::Fixed: return "q" + std::to_string(15 - f.frac_bits) + "." + std::to_string(f.frac_bits);
    case WeightFormatKind::MaxAbs: return "maxabs";
    case WeightFormatKind::SignMag: return f.frac_bits == 11 ? "signmag" : "signmag" + std::to_string(f.frac_bits);
    case WeightFormatKind::Fp16: return "fp16";
    case WeightFormatKind::None: return "none";
  }
  return "none";
}

WeightFormat resolve_layer_format(const WeightFormat& f, const float* w, int64_t n) {
  if (f.kind != WeightFormatKind::MaxAbs) return f;
  float max_abs = 0.0f;
  for (int64_t i = 0; i < n; ++i)
    if (std::isfinite(w[i])) max_abs = std::max(max_abs, std::fabs(w[i]));
  WeightFormat r = f;
  // One f32 division on the host: every device then uses the identical scale.
  r.scale = max_abs > 0.0f ? max_abs / 32767.0f : 1.0f;
  // A subnormal max|w| can underflow the quotient to 0; the smallest positive scale keeps decode finite.
  if (!(r.scale > 0.0f)) r.scale = std::numeric_limits<float>::denorm_min();
  return r;
}

}  // namespace stuckat
