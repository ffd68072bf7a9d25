// Quantized weight formats, stuck-at fault maps and fault injection into a model: hand-computed
// words, round-trip error bounds, fast == reference bit for bit, binomial statistics of the
// generated maps, reproducibility across threads and shards, and the --quant/--faults parsers.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "faults/fault_map.h"
#include "faults/fault_spec.h"
#include "faults/faulty_model.h"
#include "faults/weight_codec.h"
#include "base/weight_format.h"
#include "base/word_codec.h"
#include "framework/parallel.h"
#include "framework/random.h"
#include "models/model_zoo.h"

using namespace stuckat;

namespace {

// Encodes with both the reference and the fast path, checks they agree, returns the words.
std::vector<uint16_t> encode_both(const std::vector<float>& w, const WeightFormat& f, int64_t* saturated = nullptr) {
  const int64_t n = static_cast<int64_t>(w.size());
  std::vector<uint16_t> ref(w.size()), fast(w.size());
  int64_t sat_ref = encode_weights_ref(w.data(), ref.data(), n, f);
  int64_t sat_fast = encode_weights(w.data(), fast.data(), n, f);
  REQUIRE(ref == fast);
  REQUIRE(sat_ref == sat_fast);
  if (saturated) *saturated = sat_ref;
  return ref;
}

uint16_t encode_one(float w, const WeightFormat& f, int64_t* saturated = nullptr) {
  return encode_both({w}, f, saturated)[0];
}

float decode_one(uint16_t word, const WeightFormat& f) {
  float ref = 0, fast = 0;
  decode_weights_ref(&word, &ref, 1, f);
  decode_weights(&word, &fast, 1, f);
  REQUIRE(f32_bits(ref) == f32_bits(fast));
  return ref;
}

WeightFormat fmt_of(const char* s) { return parse_weight_format(s); }

// Requires that `fn` throws InputError whose message contains `needle`.
template <typename Fn> void require_input_error(Fn fn, const std::string& needle) {
  try {
    fn();
    FAIL("expected InputError mentioning " << needle);
  } catch (const InputError& e) {
    INFO(e.what());
    REQUIRE(std::string(e.what()).find(needle) != std::string::npos);
  }
}

// Random f32 bit patterns (every class: normals, subnormals, zeros, inf, NaN with payloads).
std::vector<float> random_bit_patterns(int64_t n, uint64_t seed) {
  RandomStream rng(seed, 1);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = f32_from_bits(rng.next_u32());
  return v;
}

}  // namespace

TEST_CASE("--quant parser accepts the documented spellings and rejects others", "[faults]") {
  REQUIRE(fmt_of("q4.11").kind == WeightFormatKind::Fixed);
  REQUIRE(fmt_of("q4.11").frac_bits == 11);
  REQUIRE(fmt_of("Q4.11").frac_bits == 11);
  REQUIRE(fmt_of("q0.15").frac_bits == 15);
  REQUIRE(fmt_of("q15.0").frac_bits == 0);
  REQUIRE(fmt_of("maxabs").kind == WeightFormatKind::MaxAbs);
  REQUIRE(fmt_of("signmag").kind == WeightFormatKind::SignMag);
  REQUIRE(fmt_of("signmag").frac_bits == 11);
  REQUIRE(fmt_of("fp16").kind == WeightFormatKind::Fp16);
  REQUIRE(fmt_of("none").is_none());
  for (const char* s : {"q4.11", "q0.15", "q8.7", "maxabs", "signmag", "fp16", "none"})
    REQUIRE(weight_format_name(fmt_of(s)) == s);
  for (const char* bad : {"", "q4.12", "q16.0", "q4", "q.11", "q4.", "q-1.16", "int8", "q4.11x", "fp32"})
    require_input_error([&] { parse_weight_format(bad); }, "--quant");
  require_input_error([] { parse_weight_format("int8"); }, "fp16");  // lists the valid forms
}

TEST_CASE("Q4.11 words are hand-computed two's complement", "[faults]") {
  const WeightFormat q = fmt_of("q4.11");
  REQUIRE(q.step() == std::ldexp(1.0f, -11));
  REQUIRE(encode_one(-1.0f, q) == 0xF800);
  REQUIRE(encode_one(1.0f, q) == 0x0800);
  REQUIRE(encode_one(std::ldexp(1.0f, -11), q) == 0x0001);
  REQUIRE(encode_one(-std::ldexp(1.0f, -11), q) == 0xFFFF);
  REQUIRE(encode_one(15.99951171875f, q) == 0x7FFF);
  REQUIRE(encode_one(-16.0f, q) == 0x8000);
  REQUIRE(encode_one(0.0f, q) == 0x0000);
  REQUIRE(encode_one(-0.0f, q) == 0x0000);
  int64_t sat = -1;
  REQUIRE(encode_one(15.99951171875f, q, &sat) == 0x7FFF);
  REQUIRE(sat == 0);
  REQUIRE(encode_one(100.0f, q, &sat) == 0x7FFF);
  REQUIRE(sat == 1);
  REQUIRE(encode_one(-100.0f, q, &sat) == 0x8000);
  REQUIRE(sat == 1);
  REQUIRE(encode_one(16.0f, q, &sat) == 0x7FFF);  // 16 itself is one LSB past the top
  REQUIRE(sat == 1);
  REQUIRE(encode_one(std::numeric_limits<float>::infinity(), q, &sat) == 0x7FFF);
  REQUIRE(sat == 1);
  REQUIRE(encode_one(std::numeric_limits<float>::quiet_NaN(), q, &sat) == 0x0000);
  REQUIRE(sat == 1);
  // Ties go to the even word: 0.5, 1.5, 2.5 LSB -> 0, 2, 2; negatives mirror.
  const float lsb = std::ldexp(1.0f, -11);
  REQUIRE(encode_one(0.5f * lsb, q) == 0x0000);
  REQUIRE(encode_one(1.5f * lsb, q) == 0x0002);
  REQUIRE(encode_one(2.5f * lsb, q) == 0x0002);
  REQUIRE(encode_one(-1.5f * lsb, q) == 0xFFFE);
  REQUIRE(encode_one(0.75f * lsb, q) == 0x0001);
  // Decode: int16(word) * 2^-11.
  REQUIRE(decode_one(0xF800, q) == -1.0f);
  REQUIRE(decode_one(0x7FFF, q) == 15.99951171875f);
  REQUIRE(decode_one(0x8000, q) == -16.0f);
  REQUIRE(decode_one(0x0001, q) == lsb);
  // Other splits: q0.15 has LSB 2^-15, q15.0 is an integer.
  REQUIRE(encode_one(0.5f, fmt_of("q0.15")) == 0x4000);
  REQUIRE(encode_one(-1.0f, fmt_of("q0.15")) == 0x8000);
  REQUIRE(encode_one(3.0f, fmt_of("q15.0")) == 0x0003);
  REQUIRE(encode_one(-3.0f, fmt_of("q15.0")) == 0xFFFD);
}

TEST_CASE("sign-magnitude words", "[faults]") {
  const WeightFormat s = fmt_of("signmag");
  REQUIRE(encode_one(-1.0f, s) == 0x8800);
  REQUIRE(encode_one(1.0f, s) == 0x0800);
  REQUIRE(encode_one(std::ldexp(-3.0f, -11), s) == 0x8003);
  REQUIRE(encode_one(std::ldexp(-1.0f, -13), s) == 0x0000);  // rounds to zero: one zero, +0
  REQUIRE(encode_one(-0.0f, s) == 0x0000);
  int64_t sat = -1;
  REQUIRE(encode_one(100.0f, s, &sat) == 0x7FFF);
  REQUIRE(sat == 1);
  REQUIRE(encode_one(-100.0f, s, &sat) == 0xFFFF);
  REQUIRE(sat == 1);
  REQUIRE(decode_one(0x8800, s) == -1.0f);
  REQUIRE(decode_one(0xFFFF, s) == -32767.0f / 2048.0f);
  REQUIRE(decode_one(0x8000, s) == 0.0f);
}

TEST_CASE("fp16 words are IEEE binary16 with round half to even", "[faults]") {
  const WeightFormat h = fmt_of("fp16");
  REQUIRE(encode_one(1.0f, h) == 0x3C00);
  REQUIRE(encode_one(-2.0f, h) == 0xC000);
  REQUIRE(encode_one(65504.0f, h) == 0x7BFF);
  REQUIRE(encode_one(std::ldexp(1.0f, -24), h) == 0x0001);
  REQUIRE(encode_one(std::ldexp(1.0f, -14), h) == 0x0400);         // smallest normal
  REQUIRE(encode_one(std::ldexp(1023.0f, -24), h) == 0x03FF);      // largest subnormal
  REQUIRE(encode_one(0.1f, h) == 0x2E66);                          // 0.0999755859375
  REQUIRE(encode_one(-0.0f, h) == 0x8000);
  REQUIRE(encode_one(std::ldexp(1.0f, -25), h) == 0x0000);         // half of 2^-24: tie to even 0
  REQUIRE(encode_one(std::ldexp(3.0f, -25), h) == 0x0002);         // 1.5 units: tie to even 2
  REQUIRE(encode_one(1.0f + std::ldexp(1.0f, -11), h) == 0x3C00);  // tie between 1 and 1+2^-10
  REQUIRE(encode_one(1.0f + std::ldexp(3.0f, -11), h) == 0x3C02);  // tie between 1+2^-10 and 1+2^-9
  REQUIRE(encode_one(std::ldexp(2047.0f, -10), h) == 0x3FFF);       // 2 - 2^-10, exact
  REQUIRE(encode_one(std::ldexp(4095.0f, -11), h) == 0x4000);       // 2 - 2^-11: tie, odd 0x3FFF loses
  int64_t sat = -1;
  REQUIRE(encode_one(65519.0f, h, &sat) == 0x7BFF);
  REQUIRE(sat == 0);
  REQUIRE(encode_one(65520.0f, h, &sat) == 0x7C00);  // halfway to 2^16: ties to even = inf
  REQUIRE(sat == 1);
  REQUIRE(encode_one(1e6f, h, &sat) == 0x7C00);
  REQUIRE(sat == 1);
  REQUIRE(encode_one(-1e6f, h) == 0xFC00);
  REQUIRE(encode_one(std::numeric_limits<float>::infinity(), h, &sat) == 0x7C00);
  REQUIRE(sat == 0);  // inf is representable
  REQUIRE(encode_one(std::numeric_limits<float>::quiet_NaN(), h) == 0x7E00);
  REQUIRE(decode_one(0x3C00, h) == 1.0f);
  REQUIRE(decode_one(0xC000, h) == -2.0f);
  REQUIRE(decode_one(0x7BFF, h) == 65504.0f);
  REQUIRE(decode_one(0x0001, h) == std::ldexp(1.0f, -24));
  REQUIRE(decode_one(0x3555, h) == 0.333251953125f);
  REQUIRE(std::isinf(decode_one(0x7C00, h)));
  REQUIRE(std::isnan(decode_one(0x7E00, h)));
  REQUIRE(std::signbit(decode_one(0x8000, h)));
}

TEST_CASE("maxabs maps the layer's largest magnitude to 32767", "[faults]") {
  const std::vector<float> w = {2.0f, 0.5f, -2.0f, 0.0f};
  const WeightFormat f = resolve_layer_format(fmt_of("maxabs"), w.data(), 4);
  REQUIRE(f.scale == 2.0f / 32767.0f);
  const std::vector<uint16_t> words = encode_both(w, f);
  REQUIRE(words[0] == 0x7FFF);
  REQUIRE(words[1] == 0x2000);  // 0.5 / (2 / 32767) = 8191.75 -> 8192
  REQUIRE(words[2] == 0x8001);  // -32767
  REQUIRE(words[3] == 0x0000);
  REQUIRE(decode_one(0x7FFF, f) == Approx(2.0f).epsilon(1e-6));
  // A layer of zeros gets scale 1 so every word is 0 and decode stays finite.
  const std::vector<float> zeros(8, 0.0f);
  REQUIRE(resolve_layer_format(fmt_of("maxabs"), zeros.data(), 8).scale == 1.0f);
  // Non-finite weights do not set the scale.
  const std::vector<float> with_inf = {1.0f, std::numeric_limits<float>::infinity()};
  REQUIRE(resolve_layer_format(fmt_of("maxabs"), with_inf.data(), 2).scale == 1.0f / 32767.0f);
  // Other formats pass through unchanged.
  REQUIRE(resolve_layer_format(fmt_of("q4.11"), w.data(), 4).scale == 0.0f);
}

TEST_CASE("round trip error is at most half an LSB inside the range", "[faults]") {
  RandomStream rng(11, 2);
  const int64_t n = 100000;
  for (const char* name : {"q4.11", "q0.15", "q8.7", "q15.0", "signmag"}) {
    const WeightFormat f = fmt_of(name);
    const float lsb = f.step();
    const float top = 32767.0f * lsb;
    std::vector<float> w(n);
    for (auto& x : w) x = rng.next_uniform(-top, top);
    int64_t sat = -1;
    std::vector<uint16_t> words = encode_both(w, f, &sat);
    REQUIRE(sat == 0);
    std::vector<float> back(n);
    decode_weights(words.data(), back.data(), n, f);
    float worst = 0;
    for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(back[i] - w[i]));
    INFO(name);
    // Power-of-two steps make w / step and int * step exact, so the only error is the rounding.
    REQUIRE(worst <= 0.5f * lsb);
  }
  {
    std::vector<float> w(n);
    for (auto& x : w) x = rng.next_uniform(-0.37f, 0.37f);
    const WeightFormat f = resolve_layer_format(fmt_of("maxabs"), w.data(), n);
    int64_t sat = -1;
    std::vector<uint16_t> words = encode_both(w, f, &sat);
    REQUIRE(sat == 0);
    std::vector<float> back(n);
    decode_weights(words.data(), back.data(), n, f);
    for (int64_t i = 0; i < n; ++i) {
      // Half an LSB from rounding, plus the f32 division before it (|q| < 2^15, ulp <= 2^-9 LSB)
      // and the f32 multiply after it (relative 2^-24): 0.5 + 2^-8 LSB covers both with margin.
      REQUIRE(std::fabs(back[i] - w[i]) <= (0.5f + 1.0f / 256) * f.scale);
    }
  }
  {
    const WeightFormat f = fmt_of("fp16");
    std::vector<float> w(n);
    // Log-uniform magnitudes over the whole normal range [2^-14, 65504], random signs.
    for (auto& x : w) {
      float v = std::exp2(rng.next_uniform(-14.0f, 15.99f));
      x = rng.next_uniform() < 0.5f ? -v : v;
    }
    std::vector<uint16_t> words = encode_both(w, f);
    std::vector<float> back(n);
    decode_weights(words.data(), back.data(), n, f);
    // 10 fraction bits: rounding to nearest is within 2^-11 relative.
    for (int64_t i = 0; i < n; ++i) REQUIRE(std::fabs(back[i] - w[i]) <= std::ldexp(std::fabs(w[i]), -11));
    // Subnormal halves: absolute error at most half of 2^-24.
    for (int i = 0; i < 1000; ++i) {
      float v = rng.next_uniform(0.0f, std::ldexp(1.0f, -14));
      REQUIRE(std::fabs(decode_one(encode_one(v, f), f) - v) <= std::ldexp(1.0f, -25));
    }
  }
}

TEST_CASE("every word survives decode then encode", "[faults]") {
  for (const char* name : {"q4.11", "q0.15", "q15.0", "signmag", "fp16"}) {
    INFO(name);
    const WeightFormat f = fmt_of(name);
    std::vector<uint16_t> all(65536);
    for (int i = 0; i < 65536; ++i) all[static_cast<size_t>(i)] = static_cast<uint16_t>(i);
    std::vector<float> values(65536), values_fast(65536);
    decode_weights_ref(all.data(), values.data(), 65536, f);
    decode_weights(all.data(), values_fast.data(), 65536, f);
    for (int i = 0; i < 65536; ++i) REQUIRE(f32_bits(values[i]) == f32_bits(values_fast[i]));
    int64_t sat = -1;
    std::vector<uint16_t> again = encode_both(values, f, &sat);
    REQUIRE(sat == 0);
    for (int i = 0; i < 65536; ++i) {
      const uint16_t word = static_cast<uint16_t>(i);
      if (f.kind == WeightFormatKind::SignMag && word == 0x8000) REQUIRE(again[i] == 0x0000);  // -0 -> +0
      else if (f.kind == WeightFormatKind::Fp16 && std::isnan(values[i])) REQUIRE((again[i] & 0x7FFF) == 0x7E00);
      else REQUIRE(again[i] == word);
    }
  }
}

TEST_CASE("fast encode equals the reference bit for bit over edge values and random bits", "[faults]") {
  std::vector<float> w = random_bit_patterns(300000, 5);
  // Edges: zeros, infinities, NaN, f32 subnormals, range ends, and every LSB tie in [-20, 20).
  for (float e : {0.0f, -0.0f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                  std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::denorm_min(),
                  std::numeric_limits<float>::min(), std::numeric_limits<float>::max(), 65504.0f, 65519.99f, 65520.0f,
                  15.99951171875f, 16.0f, -16.0f, -16.000244f})
    w.push_back(e);
  for (int k = -20 * 4096; k < 20 * 4096; ++k) w.push_back(std::ldexp(static_cast<float>(k), -12));
  RandomStream rng(9, 9);
  for (int i = 0; i < 100000; ++i) w.push_back(rng.next_uniform(-20.0f, 20.0f));
  for (int i = 0; i < 100000; ++i) w.push_back(rng.next_uniform(-1e-4f, 1e-4f));
  for (const char* name : {"q4.11", "q0.15", "q15.0", "signmag", "fp16", "maxabs"}) {
    INFO(name);
    WeightFormat f = fmt_of(name);
    // maxabs: one scale from the edge-free part, so the rest exercises saturation too.
    if (f.kind == WeightFormatKind::MaxAbs) f = resolve_layer_format(f, w.data() + 300015, 100000);
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      encode_both(w, f);  // checks ref == fast words and saturation counts
    }
  }
}

#if defined(__FLT16_MAX__)
TEST_CASE("fp16 encode agrees with the compiler's _Float16 conversion", "[faults]") {
  // An independent oracle: GCC's float -> _Float16 conversion (IEEE round to nearest even).
  const std::vector<float> w = random_bit_patterns(200000, 17);
  const std::vector<uint16_t> words = encode_both(w, fmt_of("fp16"));
  for (size_t i = 0; i < w.size(); ++i) {
    if (std::isnan(w[i])) continue;  // NaN payloads are implementation-defined
    _Float16 h = static_cast<_Float16>(w[i]);
    uint16_t bits;
    std::memcpy(&bits, &h, sizeof bits);
    REQUIRE(words[i] == bits);
  }
}
#endif

TEST_CASE("--faults parser accepts the documented forms", "[faults]") {
  FaultSpec s = parse_fault_spec("layer=conv2,bit=15,stuck=1,rate=0.01,seed=0");
  REQUIRE(s.layer == "conv2");
  REQUIRE(s.bit == 15);
  REQUIRE(s.sa1_fraction == 1.0);
  REQUIRE(s.rate == 0.01);
  REQUIRE(s.seed == 0);
  REQUIRE_FALSE(s.nonzero_only);

  s = parse_fault_spec("rate=0.5,stuck=mix:1.75:9.04,bit=random");
  REQUIRE(s.layer == "all");
  REQUIRE(s.random_bit());
  REQUIRE(s.sa1_fraction == Approx(9.04 / (1.75 + 9.04)));
  REQUIRE(s.stuck_text == "mix:1.75:9.04");

  s = parse_fault_spec("layer=features.0,bit=0,stuck=0,rate=1,seed=18446744073709551615,target=nonzero");
  REQUIRE(s.layer == "features.0");
  REQUIRE(s.bit == 0);
  REQUIRE(s.sa1_fraction == 0.0);
  REQUIRE(s.rate == 1.0);
  REQUIRE(s.seed == 18446744073709551615ull);
  REQUIRE(s.nonzero_only);

  for (const char* text : {"layer=conv2,bit=15,stuck=1,rate=0.01,seed=0", "bit=random,stuck=mix:1.75:9.04,rate=1e-3",
                           "layer=fc1,bit=3,stuck=0,rate=0.3,seed=7,target=nonzero"}) {
    const FaultSpec a = parse_fault_spec(text);
    const FaultSpec b = parse_fault_spec(fault_spec_string(a));
    REQUIRE(a.layer == b.layer);
    REQUIRE(a.bit == b.bit);
    REQUIRE(a.sa1_fraction == b.sa1_fraction);
    REQUIRE(a.rate == b.rate);
    REQUIRE(a.seed == b.seed);
    REQUIRE(a.nonzero_only == b.nonzero_only);
  }
}

TEST_CASE("--faults parser rejects each malformed spec with one InputError", "[faults]") {
  const std::vector<std::pair<const char*, const char*>> bad = {
      {"", "empty"},
      {"layer=conv2", "missing"},
      {"bit=15,stuck=1", "'rate' is missing"},
      {"bit=16,stuck=1,rate=0.1", "bit=16"},
      {"bit=-1,stuck=1,rate=0.1", "bit=-1"},
      {"bit=msb,stuck=1,rate=0.1", "bit=msb"},
      {"bit=15,stuck=1,rate=1.5", "rate=1.5"},
      {"bit=15,stuck=1,rate=-0.1", "rate=-0.1"},
      {"bit=15,stuck=1,rate=nan", "rate=nan"},
      {"bit=15,stuck=1,rate=0.1x", "rate=0.1x"},
      {"bit=15,stuck=2,rate=0.1", "stuck=2"},
      {"bit=15,stuck=mix:1,rate=0.1", "stuck=mix:1"},
      {"bit=15,stuck=mix:0:0,rate=0.1", "stuck=mix:0:0"},
      {"bit=15,stuck=mix:-1:2,rate=0.1", "stuck=mix:-1:2"},
      {"bit=15,stuck=1,rate=0.1,seed=-1", "seed=-1"},
      {"bit=15,stuck=1,rate=0.1,seed=99999999999999999999", "seed="},
      {"bit=15,stuck=1,rate=0.1,target=zero", "target=zero"},
      {"bit=15,stuck=1,rate=0.1,colour=red", "unknown key 'colour'"},
      {"bit=15,stuck=1,rate=0.1,rate=0.2", "twice"},
      {"bit=15,,stuck=1,rate=0.1", "key=value"},
      {"bit=15,stuck=1,rate=0.1,", "key=value"},
      {"bit=15;stuck=1;rate=0.1", "bit="},
      {"layer=,bit=15,stuck=1,rate=0.1", "key=value"},
  };
  for (const auto& [text, problem] : bad) {
    INFO(text);
    require_input_error([&] { parse_fault_spec(text); }, "--faults");
    require_input_error([&] { parse_fault_spec(text); }, problem);
  }
}

TEST_CASE("stacked stuck bits compose with the later spec winning", "[faults]") {
  uint16_t a = 0xFFFF, o = 0x0000;
  add_stuck_bit(&a, &o, 3, false);  // SA0 on bit 3
  REQUIRE(a == 0xFFF7);
  REQUIRE(o == 0x0000);
  add_stuck_bit(&a, &o, 15, true);  // SA1 on the MSB
  REQUIRE(a == 0xFFF7);
  REQUIRE(o == 0x8000);
  add_stuck_bit(&a, &o, 3, true);   // a later SA1 on bit 3 overrides the SA0
  REQUIRE(a == 0xFFFF);
  REQUIRE(o == 0x8008);
  add_stuck_bit(&a, &o, 15, false); // a later SA0 on the MSB overrides the SA1
  REQUIRE(a == 0x7FFF);
  REQUIRE(o == 0x0008);
  // Effective word: 0xF0F0 -> MSB forced to 0, bit 3 forced to 1.
  REQUIRE(static_cast<uint16_t>((0xF0F0 & a) | o) == 0x70F8);

  // The same through whole-layer generation with rate 1 (every weight hit), ref and fast.
  const int64_t n = 64;
  std::vector<FaultSpec> specs = {parse_fault_spec("bit=3,stuck=0,rate=1"), parse_fault_spec("bit=15,stuck=1,rate=1"),
                                  parse_fault_spec("bit=3,stuck=1,rate=1"), parse_fault_spec("bit=15,stuck=0,rate=1")};
  FaultMap ref(n), fast(n);
  for (const FaultSpec& s : specs) {
    FaultDraw d = make_fault_draw(s, "conv2");
    add_faults_ref(d, 0, n, nullptr, ref.and_mask.data(), ref.or_mask.data());
    add_faults(d, 0, n, nullptr, fast.and_mask.data(), fast.or_mask.data());
  }
  for (int64_t i = 0; i < n; ++i) {
    REQUIRE(ref.and_mask[i] == 0x7FFF);
    REQUIRE(ref.or_mask[i] == 0x0008);
  }
  REQUIRE(ref.and_mask == fast.and_mask);
  REQUIRE(ref.or_mask == fast.or_mask);
}

TEST_CASE("MSB stuck-at-1 turns a positive Q4.11 weight negative", "[faults]") {
  const WeightFormat q = fmt_of("q4.11");
  const std::vector<float> w = {1.0f, 0.25f, -1.0f};
  std::vector<uint16_t> words = encode_both(w, q);
  FaultMap m(3);
  add_faults_ref(make_fault_draw(parse_fault_spec("bit=15,stuck=1,rate=1"), "conv2"), 0, 3, nullptr, m.and_mask.data(),
                 m.or_mask.data());
  for (int i = 0; i < 3; ++i) words[i] = static_cast<uint16_t>((words[i] & m.and_mask[i]) | m.or_mask[i]);
  // 0x0800 | 0x8000 = 0x8800 = -30720 -> -15.0; 0x0200 | 0x8000 = -32256 -> -15.75; -1.0 keeps its set MSB.
  REQUIRE(decode_one(words[0], q) == -15.0f);
  REQUIRE(decode_one(words[1], q) == -15.75f);
  REQUIRE(decode_one(words[2], q) == -1.0f);
}

TEST_CASE("fault maps follow the requested statistics", "[faults]") {
  const int64_t n = 200000;
  SECTION("faulty count for rate q within 5 binomial standard deviations") {
    for (double q : {0.001, 0.01, 0.05, 0.5}) {
      FaultMap m(n);
      FaultSpec s = parse_fault_spec(fmt::format("bit=7,stuck=1,rate={}", q));
      add_faults(make_fault_draw(s, "fc1"), 0, n, nullptr, m.and_mask.data(), m.or_mask.data());
      const double mean = n * q, sd = std::sqrt(n * q * (1 - q));
      INFO(q);
      REQUIRE(std::fabs(m.count_faulty() - mean) <= 5 * sd);
    }
    FaultMap none(n), all(n);
    add_faults(make_fault_draw(parse_fault_spec("bit=7,stuck=1,rate=0"), "fc1"), 0, n, nullptr, none.and_mask.data(),
               none.or_mask.data());
    add_faults(make_fault_draw(parse_fault_spec("bit=7,stuck=1,rate=1"), "fc1"), 0, n, nullptr, all.and_mask.data(),
               all.or_mask.data());
    REQUIRE(none.count_faulty() == 0);
    REQUIRE(all.count_faulty() == n);
  }
  SECTION("bit=random spreads over the 16 positions uniformly") {
    const int64_t m_n = 160000;
    FaultMap m(m_n);
    add_faults(make_fault_draw(parse_fault_spec("bit=random,stuck=1,rate=1,seed=4"), "conv1"), 0, m_n, nullptr,
               m.and_mask.data(), m.or_mask.data());
    std::vector<int64_t> per_bit(16, 0);
    for (int64_t i = 0; i < m_n; ++i) {
      REQUIRE(__builtin_popcount(m.or_mask[i]) == 1);  // exactly one stuck bit per weight
      per_bit[static_cast<size_t>(__builtin_ctz(m.or_mask[i]))]++;
    }
    const double mean = m_n / 16.0, sd = std::sqrt(m_n * (1.0 / 16) * (15.0 / 16));
    double chi2 = 0;
    for (int b = 0; b < 16; ++b) {
      INFO("bit " << b);
      REQUIRE(std::fabs(per_bit[b] - mean) <= 5 * sd);
      chi2 += (per_bit[b] - mean) * (per_bit[b] - mean) / mean;
    }
    // 15 degrees of freedom: P(chi2 > 44) ~ 1e-4 for a uniform draw.
    REQUIRE(chi2 < 44.0);
  }
  SECTION("mix:A:B gives SA1 with probability B/(A+B)") {
    FaultMap m(n);
    add_faults(make_fault_draw(parse_fault_spec("bit=5,stuck=mix:1.75:9.04,rate=1"), "conv2"), 0, n, nullptr,
               m.and_mask.data(), m.or_mask.data());
    int64_t sa1 = 0, sa0 = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (m.or_mask[i] == 0x0020 && m.and_mask[i] == 0xFFFF) ++sa1;
      if (m.or_mask[i] == 0 && m.and_mask[i] == 0xFFDF) ++sa0;
    }
    REQUIRE(sa0 + sa1 == n);
    const double p = 9.04 / (1.75 + 9.04), sd = std::sqrt(n * p * (1 - p));
    REQUIRE(std::fabs(sa1 - n * p) <= 5 * sd);
  }
  SECTION("target=nonzero never faults a zero weight") {
    std::vector<float> w(n);
    for (int64_t i = 0; i < n; ++i) w[i] = (i % 10 < 7) ? 0.0f : 0.1f * static_cast<float>(i % 7 + 1);  // 30% nonzero
    for (double q : {0.3, 1.0}) {
      FaultMap m(n), ref(n);
      FaultDraw d = make_fault_draw(parse_fault_spec(fmt::format("bit=2,stuck=0,rate={},target=nonzero", q)), "fc2");
      add_faults(d, 0, n, w.data(), m.and_mask.data(), m.or_mask.data());
      add_faults_ref(d, 0, n, w.data(), ref.and_mask.data(), ref.or_mask.data());
      REQUIRE(m.and_mask == ref.and_mask);
      int64_t on_zero = 0, on_nonzero = 0;
      for (int64_t i = 0; i < n; ++i)
        if (m.and_mask[i] != 0xFFFF) (w[i] == 0.0f ? on_zero : on_nonzero)++;
      REQUIRE(on_zero == 0);
      const double nnz = 0.3 * n, sd = std::sqrt(nnz * q * (1 - q));
      REQUIRE(std::fabs(on_nonzero - nnz * q) <= 5 * sd + 1e-9);
    }
  }
}

TEST_CASE("fault maps do not depend on threads, shards or the implementation", "[faults]") {
  const int64_t n = 100003;
  std::vector<float> w(n);
  RandomStream rng(3, 3);
  for (auto& x : w) x = rng.next_uniform() < 0.5f ? 0.0f : rng.next_uniform(-1.0f, 1.0f);
  const std::vector<FaultSpec> specs = {parse_fault_spec("bit=random,stuck=mix:1:1,rate=0.2,seed=11"),
                                        parse_fault_spec("bit=14,stuck=0,rate=0.1,seed=12,target=nonzero")};
  auto build = [&](int threads, int64_t split, bool reference) {
    set_num_threads(threads);
    FaultMap m(n);
    for (const FaultSpec& s : specs) {
      FaultDraw d = make_fault_draw(s, "layer1.0.conv1");
      auto gen = reference ? add_faults_ref : add_faults;
      gen(d, 0, split, w.data(), m.and_mask.data(), m.or_mask.data());
      gen(d, split, n - split, w.data() + split, m.and_mask.data() + split, m.or_mask.data() + split);
    }
    return m;
  };
  const FaultMap ref = build(1, n, true);
  REQUIRE(ref.count_faulty() > 0);
  for (int threads : {1, 2})
    for (int64_t split : {int64_t{0}, int64_t{1}, n / 2, int64_t{77777}, n}) {
      for (bool reference : {false, true}) {
        const FaultMap m = build(threads, split, reference);
        REQUIRE(m.and_mask == ref.and_mask);
        REQUIRE(m.or_mask == ref.or_mask);
      }
    }

  // Different seeds or layers draw different maps.
  auto single = [&](const char* spec, const char* layer) {
    FaultMap m(n);
    add_faults(make_fault_draw(parse_fault_spec(spec), layer), 0, n, nullptr, m.and_mask.data(), m.or_mask.data());
    return m.and_mask;
  };
  const auto base = single("bit=0,stuck=0,rate=0.1,seed=1", "conv1");
  REQUIRE(single("bit=0,stuck=0,rate=0.1,seed=1", "conv1") == base);
  REQUIRE(single("bit=0,stuck=0,rate=0.1,seed=2", "conv1") != base);
  REQUIRE(single("bit=0,stuck=0,rate=0.1,seed=1", "conv2") != base);
}

TEST_CASE("fault injection into LeNet-5 changes only the named layer and restores exactly", "[faults]") {
  auto model = make_model(parse_model_name("lenet5"), 0);
  REQUIRE(faultable_layer_names(*model) == std::vector<std::string>{"conv1", "conv2", "fc1", "fc2", "fc3"});
  auto bn_model = make_model(parse_model_name("lenet5_bn"), 0);
  REQUIRE(faultable_layer_names(*bn_model) == std::vector<std::string>{"conv1", "conv2", "fc1", "fc2", "fc3"});

  auto snapshot = [&] {
    std::vector<std::vector<float>> s;
    for (const auto& [name, t] : model->named_parameters()) s.push_back(t.to_vector());
    return s;
  };
  const auto clean = snapshot();
  const WeightFormat q = fmt_of("q4.11");
  FaultInjection inj(*model, q, {parse_fault_spec("layer=conv2,bit=15,stuck=1,rate=0.05,seed=3")});
  const std::vector<LayerFaultStats> stats = inj.apply();
  REQUIRE(stats.size() == 1);
  REQUIRE(stats[0].layer == "conv2");
  REQUIRE(stats[0].weights == 16 * 6 * 5 * 5);
  REQUIRE(stats[0].saturated == 0);

  // Independent recomputation of conv2 with the reference functions.
  const auto params = model->named_parameters();
  size_t conv2_index = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].first == "conv2.weight") {
      conv2_index = i;
      continue;
    }
    INFO(params[i].first);
    REQUIRE(params[i].second.to_vector() == clean[i]);  // every other parameter untouched
  }
  const std::vector<float>& w = clean[conv2_index];
  const int64_t n = static_cast<int64_t>(w.size());
  std::vector<uint16_t> words(w.size());
  encode_weights_ref(w.data(), words.data(), n, q);
  FaultMap m(n);
  add_faults_ref(make_fault_draw(parse_fault_spec("layer=conv2,bit=15,stuck=1,rate=0.05,seed=3"), "conv2"), 0, n, nullptr,
                 m.and_mask.data(), m.or_mask.data());
  int64_t faulty = 0, flips = 0;
  std::vector<float> expected(w.size());
  for (int64_t i = 0; i < n; ++i) {
    const bool hit = m.or_mask[i] != 0;
    faulty += hit;
    flips += hit && !(words[i] & 0x8000);  // only nonnegative weights change under MSB SA1
    words[i] = static_cast<uint16_t>((words[i] & m.and_mask[i]) | m.or_mask[i]);
  }
  decode_weights_ref(words.data(), expected.data(), n, q);
  const std::vector<float> got = params[conv2_index].second.to_vector();
  for (int64_t i = 0; i < n; ++i) REQUIRE(f32_bits(got[i]) == f32_bits(expected[i]));
  REQUIRE(stats[0].faulty == faulty);
  REQUIRE(stats[0].changed == flips);
  REQUIRE(flips > 0);
  const double sd = std::sqrt(n * 0.05 * 0.95);
  REQUIRE(std::fabs(faulty - n * 0.05) <= 5 * sd);
  for (int64_t i = 0; i < n; ++i)
    if (m.or_mask[i]) REQUIRE(got[i] < 0.0f);

  // Applying twice starts again from the clean weights.
  inj.apply();
  REQUIRE(params[conv2_index].second.to_vector() == got);

  inj.restore();
  const auto restored = snapshot();
  for (size_t i = 0; i < clean.size(); ++i) {
    REQUIRE(restored[i].size() == clean[i].size());
    REQUIRE(std::memcmp(restored[i].data(), clean[i].data(), clean[i].size() * sizeof(float)) == 0);
  }
}

TEST_CASE("fault injection over all layers, quantize-only layers and bad requests", "[faults]") {
  auto model = make_model(parse_model_name("lenet5"), 1);
  {
    FaultInjection inj(*model, fmt_of("fp16"), {parse_fault_spec("layer=fc1,bit=0,stuck=0,rate=0.5,seed=1")},
                       /*quantize_all_layers=*/true);
    const auto stats = inj.apply();
    REQUIRE(stats.size() == 5);
    for (const auto& s : stats) {
      INFO(s.layer);
      if (s.layer == "fc1") {
        REQUIRE(s.faulty > 0);
        REQUIRE(s.changed <= s.faulty);
      } else {
        REQUIRE(s.faulty == 0);
        REQUIRE(s.changed == 0);
      }
    }
    inj.restore();
  }
  {
    FaultInjection inj(*model, fmt_of("maxabs"), {parse_fault_spec("layer=all,bit=random,stuck=mix:1:1,rate=0.01,seed=2")});
    const auto stats = inj.apply();
    REQUIRE(stats.size() == 5);
    for (const auto& s : stats) REQUIRE(s.format.scale > 0.0f);
    inj.restore();
  }
  require_input_error(
      [&] { FaultInjection(*model, fmt_of("q4.11"), {parse_fault_spec("layer=conv9,bit=1,stuck=1,rate=0.1")}); },
      "conv1, conv2, fc1, fc2, fc3");
  require_input_error(
      [&] { FaultInjection(*model, fmt_of("q4.11"), {parse_fault_spec("layer=bn1,bit=1,stuck=1,rate=0.1")}); },
      "--faults layer=bn1");
  require_input_error(
      [&] { FaultInjection(*model, fmt_of("none"), {parse_fault_spec("layer=conv1,bit=1,stuck=1,rate=0.1")}); },
      "--quant");
  // No specs with format none is fine and changes nothing.
  FaultInjection nothing(*model, fmt_of("none"), {});
  REQUIRE(nothing.apply().empty());
}
