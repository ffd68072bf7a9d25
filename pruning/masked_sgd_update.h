// The SGD step with a prune mask, in one pass, for f32 (unquantised) weights: torch.optim.SGD
// arithmetic (kernels/cpu/sgd_update.h) for kept weights; a pruned weight (mask 0) and its
// momentum buffer are set to exactly 0, so neither weight decay nor momentum can revive it.
// (Quantised training uses faults/fault_sgd_update.h, which takes the same mask.)
#pragma once
#include <cstdint>

#include "kernels/cpu/sgd_update.h"

namespace stuckat {

// p, grad, momentum_buf (null when momentum == 0): n f32; keep: n flags (0 = pruned) or null.
void masked_sgd_update_ref(float* p, const float* grad, float* momentum_buf, const uint8_t* keep, int64_t n,
                           const cpu::SgdConfig& c, bool first_step);
void masked_sgd_update(float* p, const float* grad, float* momentum_buf, const uint8_t* keep, int64_t n,
                       const cpu::SgdConfig& c, bool first_step);

}  // namespace stuckat
