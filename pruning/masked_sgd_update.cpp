// The fast masked SGD step: the vectorised, threaded SGD kernel, then one pass that zeroes the
// pruned weights and buffers. Per element the result is the reference's: the step's value is
// computed and then overwritten for pruned weights, and kept weights never read a pruned one.
#include "pruning/masked_sgd_update.h"

namespace stuckat {

void masked_sgd_update(float* p, const float* grad, float* momentum_buf, const uint8_t* keep, int64_t n,
                       const cpu::SgdConfig& c, bool first_step) {
  cpu::sgd_update(p, grad, momentum_buf, n, c, first_step);
  if (keep == nullptr) return;
  const bool momentum = c.momentum != 0.0f;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const bool pruned = keep[i] == 0;
    p[i] = pruned ? 0.0f : p[i];
    if (momentum) momentum_buf[i] = pruned ? 0.0f : momentum_buf[i];
  }
}

}  // namespace stuckat
