// The fast fused fault-aware update: the same arithmetic as fault_sgd_update_ref.cpp, with the
// mode, the word format and momentum hoisted into template parameters so each case is one
// straight loop (branches become selects the compiler vectorises), split over threads for large
// layers.
// Also the --fault-mode names.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "faults/fault_sgd_update.h"
#include "base/word_codec.h"
#include "base/error.h"

namespace stuckat {

FaultMode parse_fault_mode(const std::string& text) {
  std::string s = text;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (s == "none") return FaultMode::None;
  if (s == "keep_bit") return FaultMode::KeepBit;
  if (s == "keep_weight") return FaultMode::KeepWeight;
  if (s == "zero") return FaultMode::Zero;
  if (s == "clip") return FaultMode::Clip;
  throw_input_error("--fault-mode {} is not a training mode; expected keep_bit, keep_weight, zero, clip or none", text);
}

std::string fault_mode_name(FaultMode mode) {
  switch (mode) {
    case FaultMode::None: return "none";
    case FaultMode::KeepBit: return "keep_bit";
    case FaultMode::KeepWeight: return "keep_weight";
    case FaultMode::Zero: return "zero";
    case FaultMode::Clip: return "clip";
  }
  return "none";
}

namespace {

// Below this many weights a thread team costs more than the loop.
constexpr int64_t kParallelThreshold = 1 << 15;
// The loop runs over chunks so that absent masks can be read from constant chunks of defaults:
// every load is then unconditional and the inner loop vectorises.
constexpr int64_t kChunk = 1024;

struct ChunkDefaults {
  uint16_t and_mask[kChunk], or_mask[kChunk];
  uint8_t keep[kChunk];
};

const ChunkDefaults& chunk_defaults() {
  static const ChunkDefaults d = [] {
    ChunkDefaults x;
    for (int64_t i = 0; i < kChunk; ++i) {
      x.and_mask[i] = 0xFFFF;
      x.or_mask[i] = 0;
      x.keep[i] = 1;
    }
    return x;
  }();
  return d;
}

template <FaultMode Mode, WeightFormatKind Kind, bool Momentum>
void fault_loop(float* master, float* w_eff, const float* grad, float* buf, const uint8_t* prune,
                const uint16_t* and_mask, const uint16_t* or_mask, int64_t n, const FaultSgdConfig c, bool first) {
  const float neg_lr = -c.lr, wd = c.weight_decay, mom = c.momentum, keep = 1.0f - c.dampening, step = c.step;
  const float bound = c.clip_bound;
  const bool decay = wd != 0.0f, nesterov = c.nesterov;
  const ChunkDefaults& defaults = chunk_defaults();
  bool zero_saturated = false;
  const uint16_t zero_word = encode_word(0.0f, Kind, step, &zero_saturated);  // a pruned cell's word
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n >= kParallelThreshold)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    const int64_t s = ch * kChunk, len = std::min(kChunk, n - s);
    const uint16_t* am = and_mask ? and_mask + s : defaults.and_mask;
    const uint16_t* om = and_mask ? or_mask + s : defaults.or_mask;
    const uint8_t* pk = prune ? prune + s : defaults.keep;
    float* ms = master + s;
    float* ws = w_eff + s;
    const float* gs = grad + s;
    float* bs = Momentum ? buf + s : nullptr;
#pragma omp simd
    for (int64_t j = 0; j < len; ++j) {
      const bool faulty = (am[j] != 0xFFFF) | (om[j] != 0);
      const bool pruned = pk[j] == 0;
      const float w0 = ms[j];
      float g = gs[j];
      g = decay ? std::fma(wd, w0, g) : g;
      float b = 0.0f;
      if constexpr (Momentum) {
        // On the first step the buffer is not read for the result (it may hold anything).
        const float carried = std::fma(mom, bs[j], keep * g);
        b = first ? g : carried;
        g = nesterov ? std::fma(mom, b, g) : b;
      }
      const float m = std::fma(neg_lr, g, w0);
      bool saturated;
      const uint16_t q = encode_word(m, Kind, step, &saturated);
      const float d = decode_word(q, Kind, step);
      float new_master = m, new_eff = d;
      if constexpr (Mode == FaultMode::KeepBit || Mode == FaultMode::Clip) {
        const float r = m - d;
        float v = decode_word(static_cast<uint16_t>((q & am[j]) | om[j]), Kind, step);
        if constexpr (Mode == FaultMode::Clip) {
          v = v > bound ? bound : v;
          v = v < -bound ? -bound : v;
          v = v == v ? v : 0.0f;
        }
        new_master = faulty ? v + r : m;
        new_eff = faulty ? v : d;
      }
      // A pruned cell shows the word of 0 with its stuck bits where the mode keeps faults (a
      // fault-free cell decodes to exactly 0).
      float pruned_eff = 0.0f;
      if constexpr (Mode == FaultMode::KeepBit || Mode == FaultMode::KeepWeight || Mode == FaultMode::Clip) {
        float v = decode_word(static_cast<uint16_t>((zero_word & am[j]) | om[j]), Kind, step);
        if constexpr (Mode == FaultMode::Clip) {
          v = v > bound ? bound : v;
          v = v < -bound ? -bound : v;
          v = v == v ? v : 0.0f;
        }
        pruned_eff = v;
      }
      bool frozen = false, zeroed = false;
      if constexpr (Mode == FaultMode::KeepWeight) frozen = faulty & !pruned;
      if constexpr (Mode == FaultMode::Zero) zeroed = faulty;
      new_master = frozen ? w0 : new_master;
      new_eff = frozen ? w0 : new_eff;
      new_master = (zeroed | pruned) ? 0.0f : new_master;
      new_eff = zeroed ? 0.0f : new_eff;
      new_eff = pruned ? pruned_eff : new_eff;
      if constexpr (Momentum) bs[j] = (frozen | zeroed | pruned) ? 0.0f : b;
      ms[j] = new_master;
      ws[j] = new_eff;
    }
  }
}

template <FaultMode Mode, WeightFormatKind Kind>
void dispatch_momentum(float* master, float* w_eff, const float* grad, float* buf, const uint8_t* prune,
                       const uint16_t* and_mask, const uint16_t* or_mask, int64_t n, const FaultSgdConfig& c,
                       bool first) {
  if (c.momentum != 0.0f)
    fault_loop<Mode, Kind, true>(master, w_eff, grad, buf, prune, and_mask, or_mask, n, c, first);
  else
    fault_loop<Mode, Kind, false>(master, w_eff, grad, buf, prune, and_mask, or_mask, n, c, first);
}

template <FaultMode Mode>
void dispatch_kind(float* master, float* w_eff, const float* grad, float* buf, const uint8_t* prune,
                   const uint16_t* and_mask, const uint16_t* or_mask, int64_t n, const FaultSgdConfig& c, bool first) {
  switch (c.kind) {
    case WeightFormatKind::Fixed:
    case WeightFormatKind::MaxAbs:
      return dispatch_momentum<Mode, WeightFormatKind::Fixed>(master, w_eff, grad, buf, prune, and_mask, or_mask, n, c, first);
    case WeightFormatKind::SignMag:
      return dispatch_momentum<Mode, WeightFormatKind::SignMag>(master, w_eff, grad, buf, prune, and_mask, or_mask, n, c, first);
    case WeightFormatKind::Fp16:
      return dispatch_momentum<Mode, WeightFormatKind::Fp16>(master, w_eff, grad, buf, prune, and_mask, or_mask, n, c, first);
    case WeightFormatKind::None: break;
  }
  STUCKAT_CHECK(false, "the fault-aware update needs a 16-bit weight format, not none");
}

}  // namespace

void fault_sgd_update(float* master, float* w_eff, const float* grad, float* momentum_buf, const uint8_t* prune,
                      const uint16_t* and_mask, const uint16_t* or_mask, int64_t n, const FaultSgdConfig& c,
                      bool first_step) {
  switch (c.mode) {
    case FaultMode::None:
      return dispatch_kind<FaultMode::None>(master, w_eff, grad, momentum_buf, prune, and_mask, or_mask, n, c, first_step);
    case FaultMode::KeepBit:
      return dispatch_kind<FaultMode::KeepBit>(master, w_eff, grad, momentum_buf, prune, and_mask, or_mask, n, c,
                                               first_step);
    case FaultMode::KeepWeight:
      return dispatch_kind<FaultMode::KeepWeight>(master, w_eff, grad, momentum_buf, prune, and_mask, or_mask, n, c,
                                                  first_step);
    case FaultMode::Zero:
      return dispatch_kind<FaultMode::Zero>(master, w_eff, grad, momentum_buf, prune, and_mask, or_mask, n, c, first_step);
    case FaultMode::Clip:
      return dispatch_kind<FaultMode::Clip>(master, w_eff, grad, momentum_buf, prune, and_mask, or_mask, n, c, first_step);
  }
}

}  // namespace stuckat
