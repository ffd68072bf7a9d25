// The fused fault-aware weight update: one pass over a conv/linear layer's weights that
// does the SGD step (torch.optim.SGD arithmetic, as kernels/cpu/sgd_update.h), weight decay,
// momentum, the prune mask, the stuck-bit handling of the chosen training mode and the
// requantisation to 16-bit words, and writes the effective weight the forward pass uses.
//
// Per weight i, with q(x) = encode_word(x), d(q) = decode_word(q) (word_codec.h, half-to-even),
// faulty = (AND[i] != 0xFFFF || OR[i] != 0), F(q) = (q & AND[i]) | OR[i]:
//   pruned (prune[i] == 0)          master = 0, buf = 0, never trained; w_eff = the pruned cell's value:
//                                   a pruned weight is a crossbar cell programmed to the word of 0,
//                                   z = q(0), and its stuck bits still act: with mode keep_bit,
//                                   keep_weight or clip, w_eff = d(F(z)) (clip: clamped as below);
//                                   with zero or none (faults only at evaluation), w_eff = 0. So a
//                                   pruned weight is exactly 0 unless one of its bits is stuck at 1
//                                   (z has no 1 bits in any format), and fault-free or
//                                   target=nonzero maps keep every pruned weight exactly 0.
//   faulty, zero                    master = 0, w_eff = 0, buf = 0
//   faulty, keep_weight             master unchanged (it holds the initial faulty value, see
//                                   fault_prepare_weights), w_eff = master, buf = 0
//   otherwise the SGD step on the master copy:
//     g = fma(wd, master, grad);  buf = first ? g : fma(mom, buf, (1 - damp) * g);
//     g = nesterov ? fma(mom, buf, g) : buf;  m = fma(-lr, g, master)
//   fault-free weight, or mode none master = m, w_eff = d(q(m))       (the master keeps the sub-LSB
//                                   part, so updates smaller than one LSB accumulate)
//   faulty, keep_bit                q = q(m); r = m - d(q); v = d(F(q)); master = v + r; w_eff = v
//                                   (the stuck bits hold in every word the forward pass sees; the
//                                   free bits move; r, the sub-LSB remainder, is carried over)
//   faulty, clip                    as keep_bit, then v = clamp(v, -bound, bound) (NaN -> 0) before
//                                   master = v + r; w_eff = v
// Bit-exactness: every multiply-add above is an explicit std::fma and the .cpp files are compiled
// with -ffp-contract=off, so nothing else is fused: the reference, the fast CPU loop and a CUDA
// kernel (which must use fmaf in the same places and __fadd_rn/__fsub_rn/__fmul_rn elsewhere, or
// --fmad=false) agree bit for bit.
#pragma once
#include <cstdint>
#include <string>

#include "base/weight_format.h"
#include "base/host_device.h"

namespace stuckat {

enum class FaultMode : uint8_t { None, KeepBit, KeepWeight, Zero, Clip };

// "none", "keep_bit", "keep_weight", "zero", "clip"; anything else throws InputError naming --fault-mode.
FaultMode parse_fault_mode(const std::string& text);
std::string fault_mode_name(FaultMode mode);

// clip mode's rule for a faulty weight's value (reference, fast loop and CUDA kernel alike): NaN
// becomes 0, then the value is clamped to [-bound, bound].
STUCKAT_HD inline float clip_faulty_value(float v, float bound) {
  if (v != v) return 0.0f;
  return v > bound ? bound : (v < -bound ? -bound : v);
}

// Plain data (passable by value to a CUDA kernel).
struct FaultSgdConfig {
  float lr = 0.1f, momentum = 0.0f, dampening = 0.0f, weight_decay = 0.0f;
  bool nesterov = false;
  WeightFormatKind kind = WeightFormatKind::Fixed;  // the layer's resolved format, not None
  float step = 0.0f;                                // WeightFormat::step() of it (host-computed)
  FaultMode mode = FaultMode::KeepBit;
  float clip_bound = 0.0f;                          // clip mode: |w_eff| <= clip_bound for faulty weights
};

// All arrays have n entries, one per weight in the layer's row-major order.
//   master        f32, in/out: the optimizer's copy of the weights
//   w_eff         f32, out: the weights the forward pass uses (the model's parameter)
//   grad          f32, in: dLoss/dw_eff
//   momentum_buf  f32, in/out; may be null when momentum == 0 (written, not read, on first_step)
//   prune         u8, 0 = pruned; null = nothing pruned
//   and_mask/or_mask  null = no faults (both or neither)
void fault_sgd_update_ref(float* master, float* w_eff, const float* grad, float* momentum_buf, const uint8_t* prune,
                          const uint16_t* and_mask, const uint16_t* or_mask, int64_t n, const FaultSgdConfig& c,
                          bool first_step);
void fault_sgd_update(float* master, float* w_eff, const float* grad, float* momentum_buf, const uint8_t* prune,
                      const uint16_t* and_mask, const uint16_t* or_mask, int64_t n, const FaultSgdConfig& c,
                      bool first_step);

// The state before the first step, from the initial weights in `master`: the same rules as the
// update with no SGD step (m = master), except keep_weight, where a faulty weight's master becomes
// its initial faulty value d(F(q(master))) and stays there. Writes master and w_eff.
void fault_prepare_weights(float* master, float* w_eff, const uint8_t* prune, const uint16_t* and_mask,
                           const uint16_t* or_mask, int64_t n, const FaultSgdConfig& c);

}  // namespace stuckat
