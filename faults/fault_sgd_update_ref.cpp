// The readable reference of the fused fault-aware update (the test oracle): the formulas of
// fault_sgd_update.h, element by element, every branch inside the loop.
#include <cmath>

#include "faults/fault_sgd_update.h"
#include "base/word_codec.h"

namespace stuckat {
namespace {

bool is_faulty(const uint16_t* and_mask, const uint16_t* or_mask, int64_t i) {
  return and_mask != nullptr && (and_mask[i] != 0xFFFF || or_mask[i] != 0);
}

// Requantises the stepped master value m of weight i; writes master[i] and w_eff[i].
void requantize_ref(float m, bool faulty, uint16_t and_m, uint16_t or_m, const FaultSgdConfig& c, float* master,
                    float* w_eff) {
  bool saturated = false;
  const uint16_t q = encode_word(m, c.kind, c.step, &saturated);
  const float d = decode_word(q, c.kind, c.step);
  if (!faulty || c.mode == FaultMode::None) {
    *master = m;
    *w_eff = d;
    return;
  }
  // keep_bit and clip (zero and keep_weight never get here)
  const float r = m - d;
  float v = decode_word(static_cast<uint16_t>((q & and_m) | or_m), c.kind, c.step);
  if (c.mode == FaultMode::Clip) v = clip_faulty_value(v, c.clip_bound);
  *master = v + r;
  *w_eff = v;
}

// What the forward pass sees of a pruned cell: the word of 0 with the cell's stuck bits, in the
// modes that keep faults during training; 0 in zero and none.
float pruned_cell_ref(bool faulty, uint16_t and_m, uint16_t or_m, const FaultSgdConfig& c) {
  if (!faulty || c.mode == FaultMode::Zero || c.mode == FaultMode::None) return 0.0f;
  bool saturated = false;
  const uint16_t z = encode_word(0.0f, c.kind, c.step, &saturated);
  float v = decode_word(static_cast<uint16_t>((z & and_m) | or_m), c.kind, c.step);
  if (c.mode == FaultMode::Clip) v = clip_faulty_value(v, c.clip_bound);
  return v;
}

}  // namespace

void fault_sgd_update_ref(float* master, float* w_eff, const float* grad, float* momentum_buf, const uint8_t* prune,
                          const uint16_t* and_mask, const uint16_t* or_mask, int64_t n, const FaultSgdConfig& c,
                          bool first_step) {
  for (int64_t i = 0; i < n; ++i) {
    const bool faulty = is_faulty(and_mask, or_mask, i);
    const bool pruned = prune != nullptr && prune[i] == 0;
    if (pruned) {
      master[i] = 0.0f;
      w_eff[i] = pruned_cell_ref(faulty, faulty ? and_mask[i] : 0xFFFF, faulty ? or_mask[i] : 0, c);
      if (c.momentum != 0.0f) momentum_buf[i] = 0.0f;
      continue;
    }
    if (faulty && c.mode == FaultMode::Zero) {
      master[i] = 0.0f;
      w_eff[i] = 0.0f;
      if (c.momentum != 0.0f) momentum_buf[i] = 0.0f;
      continue;
    }
    if (faulty && c.mode == FaultMode::KeepWeight) {
      w_eff[i] = master[i];
      if (c.momentum != 0.0f) momentum_buf[i] = 0.0f;
      continue;
    }
    float g = grad[i];
    if (c.weight_decay != 0.0f) g = std::fma(c.weight_decay, master[i], g);
    if (c.momentum != 0.0f) {
      if (first_step)
        momentum_buf[i] = g;
      else
        momentum_buf[i] = std::fma(c.momentum, momentum_buf[i], (1.0f - c.dampening) * g);
      g = c.nesterov ? std::fma(c.momentum, momentum_buf[i], g) : momentum_buf[i];
    }
    const float m = std::fma(-c.lr, g, master[i]);
    requantize_ref(m, faulty, faulty ? and_mask[i] : 0xFFFF, faulty ? or_mask[i] : 0, c, &master[i], &w_eff[i]);
  }
}

void fault_prepare_weights(float* master, float* w_eff, const uint8_t* prune, const uint16_t* and_mask,
                           const uint16_t* or_mask, int64_t n, const FaultSgdConfig& c) {
  for (int64_t i = 0; i < n; ++i) {
    const bool faulty = is_faulty(and_mask, or_mask, i);
    if (prune != nullptr && prune[i] == 0) {
      master[i] = 0.0f;
      w_eff[i] = pruned_cell_ref(faulty, faulty ? and_mask[i] : 0xFFFF, faulty ? or_mask[i] : 0, c);
    } else if (faulty && c.mode == FaultMode::Zero) {
      master[i] = 0.0f;
      w_eff[i] = 0.0f;
    } else if (faulty && c.mode == FaultMode::KeepWeight) {
      bool saturated = false;
      const uint16_t q = encode_word(master[i], c.kind, c.step, &saturated);
      master[i] = decode_word(static_cast<uint16_t>((q & and_mask[i]) | or_mask[i]), c.kind, c.step);
      w_eff[i] = master[i];
    } else {
      requantize_ref(master[i], faulty, faulty ? and_mask[i] : 0xFFFF, faulty ? or_mask[i] : 0, c, &master[i],
                     &w_eff[i]);
    }
  }
}

}  // namespace stuckat
