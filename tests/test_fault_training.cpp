// Fault-aware training: the fused update's fast loop equals its reference bit for bit
// over many steps in every mode and format, and each mode keeps its promise over several steps
// (keep_weight: faulty words never change; keep_bit: stuck bits hold while free bits move and
// sub-LSB updates accumulate; zero: exactly 0; clip: the bound holds; none: plain SGD).
#include <catch2/catch.hpp>

#include "gpu_available.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "faults/fault_aware_sgd.h"
#include "faults/fault_sgd_update.h"
#include "faults/cuda/fault_sgd_update_cuda.h"
#include "faults/faulty_model.h"
#include "base/weight_format.h"
#include "base/word_codec.h"
#include "base/error.h"
#include "base/device.h"
#include "framework/parallel.h"
#include "framework/train/trainer.h"
#include "kernels/cpu/sgd_update.h"
#include "models/model_zoo.h"

using namespace stuckat;

namespace {

constexpr float kLsb = 1.0f / 2048.0f;  // Q4.11

FaultSgdConfig q411_config(FaultMode mode, float lr, float momentum = 0.0f, float wd = 0.0f) {
  FaultSgdConfig c;
  c.lr = lr;
  c.momentum = momentum;
  c.weight_decay = wd;
  c.kind = WeightFormatKind::Fixed;
  c.step = kLsb;
  c.mode = mode;
  c.clip_bound = 0.5f;
  return c;
}

uint16_t word_of(float w) {
  bool sat = false;
  return encode_word(w, WeightFormatKind::Fixed, kLsb, &sat);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// One layer's state for the semantic tests: n weights, random masks on every third weight.
struct Layer {
  std::vector<float> master, w_eff, buf;
  std::vector<uint16_t> and_mask, or_mask;
  std::vector<uint8_t> faulty;
  explicit Layer(int n, uint32_t seed) : master(n), w_eff(n), buf(n), and_mask(n, 0xFFFF), or_mask(n, 0), faulty(n, 0) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> w(-1.0f, 1.0f);
    for (int i = 0; i < n; ++i) {
      master[i] = w(rng);
      if (i % 3 == 0) {
        const uint16_t bit = static_cast<uint16_t>(1u << (rng() % 16));
        if (rng() % 2) {
          or_mask[i] = bit;  // stuck at 1: set in both masks
        } else {
          and_mask[i] = static_cast<uint16_t>(~bit);
        }
        faulty[i] = 1;
      }
    }
  }
};

std::vector<float> random_grad(int n, std::mt19937& rng, float scale) {
  std::uniform_real_distribution<float> g(-scale, scale);
  std::vector<float> out(n);
  for (float& x : out) x = g(rng);
  return out;
}

}  // namespace

TEST_CASE("--fault-mode names round trip and bad names are rejected", "[faults][train]") {
  for (FaultMode m : {FaultMode::None, FaultMode::KeepBit, FaultMode::KeepWeight, FaultMode::Zero, FaultMode::Clip})
    CHECK(parse_fault_mode(fault_mode_name(m)) == m);
  CHECK(parse_fault_mode("KEEP_BIT") == FaultMode::KeepBit);
  CHECK_THROWS_AS(parse_fault_mode("keepbit"), InputError);
  CHECK_THROWS_AS(parse_fault_mode(""), InputError);
}

TEST_CASE("fast fused update equals the reference bit for bit over many steps", "[faults][train]") {
  const int n = 997;  // odd: exercises the vector loop's tail
  std::vector<WeightFormat> formats = {parse_weight_format("q4.11"), parse_weight_format("q1.14"),
                                       parse_weight_format("signmag"), parse_weight_format("fp16")};
  WeightFormat maxabs = parse_weight_format("maxabs");
  maxabs.scale = 1.3f / 32767.0f;  // not a power of two: products round, so stray contraction would show
  formats.push_back(maxabs);
  struct Opt {
    float momentum, dampening, wd;
    bool nesterov;
  };
  const std::vector<Opt> opts = {{0, 0, 0, false}, {0.9f, 0, 5e-4f, false}, {0.9f, 0.1f, 1e-3f, false},
                                 {0.9f, 0, 5e-4f, true}};
  for (const WeightFormat& f : formats)
    for (FaultMode mode : {FaultMode::None, FaultMode::KeepBit, FaultMode::KeepWeight, FaultMode::Zero, FaultMode::Clip})
      for (const Opt& o : opts) {
        CAPTURE(weight_format_name(f), fault_mode_name(mode), o.momentum, o.nesterov);
        FaultSgdConfig c;
        c.lr = 0.05f;
        c.momentum = o.momentum;
        c.dampening = o.dampening;
        c.weight_decay = o.wd;
        c.nesterov = o.nesterov;
        c.kind = f.kind;
        c.step = f.step();
        c.mode = mode;
        c.clip_bound = 0.3f;
        Layer a(n, 7);
        std::vector<uint8_t> prune(n, 1);
        for (int i = 0; i < n; i += 11) prune[i] = 0;
        fault_prepare_weights(a.master.data(), a.w_eff.data(), prune.data(), a.and_mask.data(), a.or_mask.data(), n, c);
        Layer b = a;
        std::mt19937 rng(3);
        for (int s = 0; s < 25; ++s) {
          std::vector<float> g = random_grad(n, rng, 2.0f);
          fault_sgd_update_ref(a.master.data(), a.w_eff.data(), g.data(), a.buf.data(), prune.data(), a.and_mask.data(),
                               a.or_mask.data(), n, c, s == 0);
          fault_sgd_update(b.master.data(), b.w_eff.data(), g.data(), b.buf.data(), prune.data(), b.and_mask.data(),
                           b.or_mask.data(), n, c, s == 0);
          REQUIRE(same_bits(a.master, b.master));
          REQUIRE(same_bits(a.w_eff, b.w_eff));
          if (c.momentum != 0.0f) REQUIRE(same_bits(a.buf, b.buf));
        }
      }
}

TEST_CASE("keep_weight: faulty weights keep their initial faulty word", "[faults][train]") {
  const int n = 300;
  FaultSgdConfig c = q411_config(FaultMode::KeepWeight, 0.1f, 0.9f, 5e-4f);
  Layer l(n, 11);
  const std::vector<float> initial = l.master;
  fault_prepare_weights(l.master.data(), l.w_eff.data(), nullptr, l.and_mask.data(), l.or_mask.data(), n, c);
  for (int i = 0; i < n; ++i) {
    const uint16_t faulted = static_cast<uint16_t>((word_of(initial[i]) & l.and_mask[i]) | l.or_mask[i]);
    REQUIRE(word_of(l.w_eff[i]) == faulted);  // the forward pass sees the faulty word from the start
  }
  const std::vector<float> start = l.w_eff;
  std::mt19937 rng(5);
  for (int s = 0; s < 10; ++s) {
    std::vector<float> g = random_grad(n, rng, 1.0f);
    fault_sgd_update(l.master.data(), l.w_eff.data(), g.data(), l.buf.data(), nullptr, l.and_mask.data(),
                     l.or_mask.data(), n, c, s == 0);
    int moved_free = 0;
    for (int i = 0; i < n; ++i) {
      if (l.faulty[i])
        REQUIRE(l.w_eff[i] == start[i]);
      else
        moved_free += l.w_eff[i] != start[i];
    }
    CHECK(moved_free > n / 2);  // lr * |g| is ~100 LSB: fault-free weights do train
  }
}

TEST_CASE("keep_bit: stuck bits hold after every step while free bits move", "[faults][train]") {
  const int n = 300;
  FaultSgdConfig c = q411_config(FaultMode::KeepBit, 0.1f, 0.9f, 5e-4f);
  Layer l(n, 13);
  fault_prepare_weights(l.master.data(), l.w_eff.data(), nullptr, l.and_mask.data(), l.or_mask.data(), n, c);
  const std::vector<float> start = l.w_eff;
  std::mt19937 rng(17);
  std::vector<int> changed(n, 0);
  for (int s = 0; s < 10; ++s) {
    std::vector<float> g = random_grad(n, rng, 1.0f);
    fault_sgd_update(l.master.data(), l.w_eff.data(), g.data(), l.buf.data(), nullptr, l.and_mask.data(),
                     l.or_mask.data(), n, c, s == 0);
    for (int i = 0; i < n; ++i) {
      const uint16_t w = word_of(l.w_eff[i]);
      REQUIRE(static_cast<uint16_t>((w & l.and_mask[i]) | l.or_mask[i]) == w);  // every stuck bit holds
      REQUIRE(decode_word(w, WeightFormatKind::Fixed, kLsb) == l.w_eff[i]);    // w_eff is a 16-bit word
      // the master stays within half an LSB of its word, unless the step saturated the format
      // (a stuck sign bit can put a weight near +-16, where a step can leave the range)
      if (std::fabs(l.master[i]) < 15.0f) REQUIRE(std::fabs(l.master[i] - l.w_eff[i]) <= 0.5f * kLsb);
      changed[i] |= l.w_eff[i] != start[i];
    }
  }
  int faulty = 0, faulty_moved = 0;
  for (int i = 0; i < n; ++i) {
    faulty += l.faulty[i];
    faulty_moved += l.faulty[i] && changed[i];
  }
  CHECK(faulty_moved > faulty / 2);  // faulty weights still train through their free bits
}

TEST_CASE("keep_bit keeps the sub-LSB remainder so small updates accumulate", "[faults][train]") {
  // Two weights at 0, gradient -1, lr LSB/4: each step adds a quarter LSB to the master.
  // Weight 1 is fault-free: masters k/4 LSB, words rint(k/4) = 0, 0, 1, 1, 1, 2 (0.5 and 1.5 go to
  // the even word). Weight 0 has bit 0 stuck at 0 (its word must stay even); by hand:
  //   k=1: q=rint(0.25)=0, v=0, r=0.25;  k=2: q=0 (half to even), r=0.5;
  //   k=3: m=0.75, q=1 -> stuck bit clears it, v=0, r=m-d(q)=-0.25, master=-0.25;
  //   k=4: m=0, master 0;  k=5: 0.25;  k=6: 0.5 (LSB units, w_eff always 0).
  // The sub-LSB part is carried; only what the stuck bit cannot express is lost.
  FaultSgdConfig c = q411_config(FaultMode::KeepBit, kLsb / 4);
  float master[2] = {0.0f, 0.0f}, w_eff[2];
  const uint16_t and_mask[2] = {0xFFFE, 0xFFFF}, or_mask[2] = {0, 0};
  const float grad[2] = {-1.0f, -1.0f};
  fault_prepare_weights(master, w_eff, nullptr, and_mask, or_mask, 2, c);
  const float free_words[6] = {0, 0, 1, 1, 1, 2};
  for (int k = 0; k < 6; ++k) {
    fault_sgd_update(master, w_eff, grad, nullptr, nullptr, and_mask, or_mask, 2, c, k == 0);
    CAPTURE(k);
    CHECK(w_eff[1] == free_words[k] * kLsb);
    CHECK(master[1] == static_cast<float>(k + 1) * 0.25f * kLsb);  // nothing lost below the LSB
  }
  // The stuck weight, by hand: masters 0.25, 0.5, (0.75 -> q=1, v=0, r=-0.25) -0.25, 0, 0.25, 0.5 LSB.
  float m = 0.0f, w = 0.0f;
  const float stuck_master[6] = {0.25f, 0.5f, -0.25f, 0.0f, 0.25f, 0.5f};
  for (int k = 0; k < 6; ++k) {
    fault_sgd_update_ref(&m, &w, grad, nullptr, nullptr, and_mask, or_mask, 1, c, k == 0);
    CAPTURE(k);
    CHECK(m == stuck_master[k] * kLsb);
    CHECK(w == 0.0f);
  }
}

TEST_CASE("zero: faulty weights are exactly 0 and pruned weights stay 0", "[faults][train]") {
  const int n = 200;
  FaultSgdConfig c = q411_config(FaultMode::Zero, 0.1f, 0.9f, 5e-4f);
  Layer l(n, 19);
  std::vector<uint8_t> prune(n, 1);
  for (int i = 1; i < n; i += 7) prune[i] = 0;
  fault_prepare_weights(l.master.data(), l.w_eff.data(), prune.data(), l.and_mask.data(), l.or_mask.data(), n, c);
  std::mt19937 rng(23);
  for (int s = 0; s < 8; ++s) {
    std::vector<float> g = random_grad(n, rng, 1.0f);
    fault_sgd_update(l.master.data(), l.w_eff.data(), g.data(), l.buf.data(), prune.data(), l.and_mask.data(),
                     l.or_mask.data(), n, c, s == 0);
    for (int i = 0; i < n; ++i)
      if (l.faulty[i] || !prune[i]) {
        REQUIRE(l.w_eff[i] == 0.0f);
        REQUIRE(l.master[i] == 0.0f);
        REQUIRE(!std::signbit(l.w_eff[i]));
      }
  }
}

TEST_CASE("clip: faulty weights stay within the bound", "[faults][train]") {
  // MSB stuck at 1 on positive weights makes them about -16 in Q4.11; the bound is 0.5.
  const int n = 100;
  FaultSgdConfig c = q411_config(FaultMode::Clip, 0.1f);
  std::vector<float> master(n), w_eff(n);
  std::vector<uint16_t> and_mask(n, 0xFFFF), or_mask(n, 0);
  for (int i = 0; i < n; ++i) {
    master[i] = 0.01f * static_cast<float>(i);
    if (i % 2 == 0) and_mask[i] = or_mask[i] = 0x8000;
  }
  fault_prepare_weights(master.data(), w_eff.data(), nullptr, and_mask.data(), or_mask.data(), n, c);
  CHECK(w_eff[2] == -0.5f);  // word 0x8000 | 0x0029 = -16 + 41 LSB, clipped to -0.5
  CHECK(w_eff[3] == decode_word(word_of(0.03f), WeightFormatKind::Fixed, kLsb));  // fault-free: just quantised
  std::mt19937 rng(29);
  for (int s = 0; s < 8; ++s) {
    std::vector<float> g = random_grad(n, rng, 3.0f);
    fault_sgd_update(master.data(), w_eff.data(), g.data(), nullptr, nullptr, and_mask.data(), or_mask.data(), n, c,
                     s == 0);
    for (int i = 0; i < n; i += 2) REQUIRE(std::fabs(w_eff[i]) <= 0.5f);
  }
}

TEST_CASE("none: faults do not touch training, which is plain SGD on the master copy", "[faults][train]") {
  const int n = 257;
  FaultSgdConfig c = q411_config(FaultMode::None, 0.1f, 0.9f, 5e-4f);
  Layer faulty(n, 31);
  std::vector<float> plain = faulty.master, plain_buf(n);
  Layer clean = faulty;
  fault_prepare_weights(faulty.master.data(), faulty.w_eff.data(), nullptr, faulty.and_mask.data(),
                        faulty.or_mask.data(), n, c);
  fault_prepare_weights(clean.master.data(), clean.w_eff.data(), nullptr, nullptr, nullptr, n, c);
  REQUIRE(same_bits(faulty.master, plain));
  const cpu::SgdConfig sc{c.lr, c.momentum, c.dampening, c.weight_decay, c.nesterov};
  std::mt19937 rng(37);
  for (int s = 0; s < 10; ++s) {
    std::vector<float> g = random_grad(n, rng, 1.0f);
    fault_sgd_update(faulty.master.data(), faulty.w_eff.data(), g.data(), faulty.buf.data(), nullptr,
                     faulty.and_mask.data(), faulty.or_mask.data(), n, c, s == 0);
    fault_sgd_update(clean.master.data(), clean.w_eff.data(), g.data(), clean.buf.data(), nullptr, nullptr, nullptr, n,
                     c, s == 0);
    cpu::sgd_update_ref(plain.data(), g.data(), plain_buf.data(), n, sc, s == 0);
    REQUIRE(same_bits(faulty.master, clean.master));
    REQUIRE(same_bits(faulty.w_eff, clean.w_eff));
    REQUIRE(same_bits(faulty.master, plain));  // torch.optim.SGD arithmetic, exactly
    for (int i = 0; i < n; ++i) REQUIRE(faulty.w_eff[i] == decode_word(word_of(plain[i]), WeightFormatKind::Fixed, kLsb));
  }
}

namespace {

DataSplit small_synthetic(uint64_t seed) {
  DataOptions o;
  o.name = "synthetic";
  o.synthetic_train = 256;
  o.synthetic_test = 128;
  o.seed = seed;
  return load_data(o);
}

std::vector<float> weights_of(const Module& m, const std::string& name) {
  for (const auto& kv : m.named_parameters())
    if (kv.first == name) return kv.second.to_vector();
  return {};
}

void copy_parameters(const Module& from, Module& to) {
  for (const auto& kv : from.named_parameters())
    for (auto& kc : to.named_parameters())
      if (kc.first == kv.first) {
        Tensor t = kc.second;
        t.copy_(kv.second);
      }
}

}  // namespace

TEST_CASE("FaultAwareSgd trains LeNet-5 with the forward pass on the faulty words", "[faults][train]") {
  set_num_threads(2);
  DataSplit data = small_synthetic(41);
  auto model = make_model(parse_model_name("lenet5"), 3);
  const std::vector<float> conv2_before = weights_of(*model, "conv2.weight");
  const WeightFormat q411 = parse_weight_format("q4.11");
  const std::vector<FaultSpec> specs = {parse_fault_spec("layer=conv2,bit=random,stuck=mix:1:1,rate=0.2,seed=4")};
  // lr 0.01: with a fifth of conv2's words stuck at random bits (some at +-16), lr 0.05 with
  // momentum 0.9 diverged or not depending on the convolutions' summation order (AVX2 vs AVX-512).
  FaultAwareSgd opt(*model, SgdOptions{0.01f, 0.9f, 0.0f, 5e-4f, false}, q411, specs, FaultMode::KeepWeight);

  // The masks are FaultInjection's: the model now holds exactly what injection gives.
  auto reference = make_model(parse_model_name("lenet5"), 3);
  FaultInjection injection(*reference, q411, specs, true);
  injection.apply();
  for (const auto& kv : reference->named_parameters()) {
    CAPTURE(kv.first);
    REQUIRE(weights_of(*model, kv.first) == kv.second.to_vector());
  }
  const auto& layers = opt.layers();
  REQUIRE(layers.size() == 5);  // every conv/linear weight is quantised, conv2 also faulty
  const FaultAwareSgd::Layer* conv2 = nullptr;
  for (const auto& l : layers)
    if (l.name == "conv2") conv2 = &l;
  REQUIRE(conv2 != nullptr);
  REQUIRE(conv2->map.count_faulty() > 0);
  const std::vector<float> start = weights_of(*model, "conv2.weight");

  EpochStats before = evaluate(*model, data.test, 128);
  for (int e = 0; e < 3; ++e) REQUIRE(train_epoch(*model, opt, data.train, 32, 1, e).finite);
  EpochStats after = evaluate(*model, data.test, 128);
  CHECK(after.loss < before.loss);
  const std::vector<float> end = weights_of(*model, "conv2.weight");
  int faulty_same = 0, faulty = 0, free_moved = 0;
  for (size_t i = 0; i < end.size(); ++i) {
    const bool f = conv2->map.and_mask[i] != 0xFFFF || conv2->map.or_mask[i] != 0;
    faulty += f;
    faulty_same += f && end[i] == start[i];
    free_moved += !f && end[i] != start[i];
    bool sat = false;
    REQUIRE(decode_word(encode_word(end[i], WeightFormatKind::Fixed, kLsb, &sat), WeightFormatKind::Fixed, kLsb) == end[i]);
  }
  CHECK(faulty_same == faulty);
  CHECK(free_moved > 0);
  CHECK(conv2_before != end);

  // The state round-trips into a fresh optimizer: the next step is identical.
  OptimizerState saved = opt.state();
  auto copy = make_model(parse_model_name("lenet5"), 99);
  copy_parameters(*model, *copy);
  FaultAwareSgd opt2(*copy, SgdOptions{0.01f, 0.9f, 0.0f, 5e-4f, false}, q411, {}, FaultMode::KeepWeight);
  copy_parameters(*model, *copy);  // the constructor re-prepared them
  opt2.load_state(saved);
  train_epoch(*model, opt, data.train, 64, 5, 3);
  train_epoch(*copy, opt2, data.train, 64, 5, 3);
  for (const auto& kv : model->named_parameters()) {
    CAPTURE(kv.first);
    REQUIRE(weights_of(*copy, kv.first) == kv.second.to_vector());
  }
}

TEST_CASE("FaultAwareSgd rejects unknown layers and faults without a format", "[faults][train]") {
  auto model = make_model(parse_model_name("lenet5"), 3);
  const SgdOptions o{0.1f, 0.0f, 0.0f, 0.0f, false};
  CHECK_THROWS_AS(FaultAwareSgd(*model, o, parse_weight_format("q4.11"),
                                {parse_fault_spec("layer=conv9,bit=3,stuck=1,rate=0.1")}, FaultMode::KeepBit),
                  InputError);
  CHECK_THROWS_AS(FaultAwareSgd(*model, o, parse_weight_format("none"),
                                {parse_fault_spec("layer=conv2,bit=3,stuck=1,rate=0.1")}, FaultMode::KeepBit),
                  InputError);
}

TEST_CASE("FaultAwareSgd clip mode defaults to each layer's largest fault-free magnitude", "[faults][train]") {
  set_num_threads(2);
  DataSplit data = small_synthetic(43);
  auto model = make_model(parse_model_name("lenet5"), 5);
  const std::vector<float> initial = weights_of(*model, "fc1.weight");
  const std::vector<FaultSpec> specs = {parse_fault_spec("layer=fc1,bit=15,stuck=1,rate=0.05,seed=1")};
  FaultAwareSgd opt(*model, SgdOptions{0.05f, 0.0f, 0.0f, 0.0f, false}, parse_weight_format("q4.11"), specs,
                    FaultMode::Clip);
  const FaultAwareSgd::Layer* fc1 = nullptr;
  for (const auto& l : opt.layers())
    if (l.name == "fc1") fc1 = &l;
  REQUIRE(fc1 != nullptr);
  float expected = 0.0f;  // by a separate walk: max |decode(encode(w))| over the fault-free weights
  for (size_t i = 0; i < initial.size(); ++i)
    if (fc1->map.and_mask[i] == 0xFFFF && fc1->map.or_mask[i] == 0)
      expected = std::max(expected, std::fabs(std::nearbyint(initial[i] * 2048.0f) / 2048.0f));
  REQUIRE(expected > 0.0f);
  CHECK(fc1->clip_bound == expected);
  train_epoch(*model, opt, data.train, 32, 1, 0);
  const std::vector<float> w = weights_of(*model, "fc1.weight");
  int faulty = 0;
  for (size_t i = 0; i < w.size(); ++i)
    if (fc1->map.or_mask[i] == 0x8000) {
      ++faulty;
      REQUIRE(std::fabs(w[i]) <= expected);
    }
  CHECK(faulty > 0);
}

namespace {
// dtype: the tensor's element type of the same size as T (the masks travel as I16 words).
template <typename T>
Tensor on_gpu(const std::vector<T>& v, DType dtype) {
  Tensor t = Tensor::empty({static_cast<int64_t>(v.size())}, dtype);
  std::memcpy(t.raw_data(), v.data(), v.size() * sizeof(T));
  return t.to(Device::CUDA);
}
std::vector<float> to_host(const Tensor& t) { return t.to(Device::CPU).to_vector(); }
}  // namespace

TEST_CASE("CUDA fused update equals the CPU reference bit for bit", "[faults][train][cuda]") {
  if (!have_gpu("CUDA fused update")) return;
  const int n = 4099;
  WeightFormat maxabs = parse_weight_format("maxabs");
  maxabs.scale = 1.3f / 32767.0f;
  for (const WeightFormat& f : {parse_weight_format("q4.11"), parse_weight_format("signmag"),
                                parse_weight_format("fp16"), maxabs})
    for (FaultMode mode : {FaultMode::None, FaultMode::KeepBit, FaultMode::KeepWeight, FaultMode::Zero, FaultMode::Clip}) {
      CAPTURE(weight_format_name(f), fault_mode_name(mode));
      FaultSgdConfig c;
      c.lr = 0.05f;
      c.momentum = 0.9f;
      c.weight_decay = 5e-4f;
      c.kind = f.kind;
      c.step = f.step();
      c.mode = mode;
      c.clip_bound = 0.3f;
      Layer a(n, 47);
      std::vector<uint8_t> prune(n, 1);
      for (int i = 0; i < n; i += 13) prune[i] = 0;
      fault_prepare_weights(a.master.data(), a.w_eff.data(), prune.data(), a.and_mask.data(), a.or_mask.data(), n, c);
      Tensor master = on_gpu(a.master, DType::F32), w_eff = on_gpu(a.w_eff, DType::F32), buf = on_gpu(a.buf, DType::F32),
             gp = on_gpu(prune, DType::U8), ga = on_gpu(a.and_mask, DType::I16), go = on_gpu(a.or_mask, DType::I16);
      std::mt19937 rng(53);
      for (int s = 0; s < 12; ++s) {
        std::vector<float> g = random_grad(n, rng, 2.0f);
        Tensor gg = on_gpu(g, DType::F32);
        fault_sgd_update_ref(a.master.data(), a.w_eff.data(), g.data(), a.buf.data(), prune.data(), a.and_mask.data(),
                             a.or_mask.data(), n, c, s == 0);
        fault_sgd_update_cuda(master.data<float>(), w_eff.data<float>(), gg.data<float>(), buf.data<float>(),
                              gp.data<uint8_t>(), reinterpret_cast<const uint16_t*>(ga.raw_data()),
                              reinterpret_cast<const uint16_t*>(go.raw_data()), n, c, s == 0);
        REQUIRE(same_bits(to_host(master), a.master));
        REQUIRE(same_bits(to_host(w_eff), a.w_eff));
        REQUIRE(same_bits(to_host(buf), a.buf));
      }
    }
}

TEST_CASE("FaultAwareSgd on the GPU follows the CPU optimizer bit for bit", "[faults][train][cuda]") {
  if (!have_gpu("FaultAwareSgd::to(cuda)")) return;
  // The same gradients (set by hand, so the forward/backward kernels play no part) into a CPU
  // and a GPU optimizer: every parameter, master weight and momentum stays bit-identical, and
  // the state (masks included) round-trips through load_state on the GPU.
  const std::vector<FaultSpec> specs = {parse_fault_spec("layer=conv2,bit=random,stuck=mix:1:1,rate=0.3,seed=4"),
                                        parse_fault_spec("layer=fc1,bit=14,stuck=1,rate=0.1,seed=5")};
  for (FaultMode mode : {FaultMode::None, FaultMode::KeepBit, FaultMode::KeepWeight, FaultMode::Zero, FaultMode::Clip}) {
    CAPTURE(fault_mode_name(mode));
    auto cpu_model = make_model(parse_model_name("lenet5"), 3), gpu_model = make_model(parse_model_name("lenet5"), 3);
    SgdOptions sgd{0.05f, 0.9f, 0.0f, 5e-4f, false};
    const WeightFormat q = parse_weight_format("q4.11");
    FaultAwareSgd cpu_opt(*cpu_model, sgd, q, specs, mode);
    FaultAwareSgd gpu_opt(*gpu_model, sgd, q, specs, mode);
    std::vector<uint8_t> prune(48000, 1);  // fc1 (120 x 400): prune every 7th weight
    for (size_t i = 0; i < prune.size(); i += 7) prune[i] = 0;
    cpu_opt.set_prune_mask("fc1", prune);
    gpu_opt.set_prune_mask("fc1", prune);
    gpu_model->to(Device::CUDA);
    gpu_opt.to(Device::CUDA);
    std::mt19937 rng(11);
    const auto pc = cpu_model->named_parameters(), pg = gpu_model->named_parameters();
    auto step_both = [&](int step) {  // one random gradient per parameter, the same on both
      for (size_t i = 0; i < pc.size(); ++i) {
        Tensor g = Tensor::from_vector(random_grad(static_cast<int>(pc[i].second.numel()), rng, 1.0f), pc[i].second.shape());
        Tensor pci = pc[i].second, pgi = pg[i].second;
        pci.set_grad(g);
        pgi.set_grad(g.to(Device::CUDA));
      }
      cpu_opt.step();
      gpu_opt.step();
      for (size_t i = 0; i < pc.size(); ++i) {
        INFO(pc[i].first << " after step " << step);
        REQUIRE(same_bits(pc[i].second.to_vector(), pg[i].second.to(Device::CPU).to_vector()));
      }
    };
    for (int step = 0; step < 4; ++step) step_both(step);
    const OptimizerState sc = cpu_opt.state(), sg = gpu_opt.state();
    REQUIRE(sc.size() == sg.size());
    for (size_t i = 0; i < sc.size(); ++i) {
      INFO(sc[i].first);
      CHECK(sc[i].first == sg[i].first);
      CHECK(sg[i].second.device() == Device::CPU);
      CHECK(std::memcmp(sc[i].second.raw_data(), sg[i].second.raw_data(), sc[i].second.nbytes()) == 0);
    }
    gpu_opt.load_state(sc);  // back from a saved state: the next step still matches
    step_both(4);
  }
}
