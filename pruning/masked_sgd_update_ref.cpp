// The readable reference of the masked SGD step (the test oracle): the plain SGD reference on
// every weight, then the pruned ones (and their momentum) set back to exactly 0.
#include "pruning/masked_sgd_update.h"

namespace stuckat {

void masked_sgd_update_ref(float* p, const float* grad, float* momentum_buf, const uint8_t* keep, int64_t n,
                           const cpu::SgdConfig& c, bool first_step) {
  cpu::sgd_update_ref(p, grad, momentum_buf, n, c, first_step);
  if (keep == nullptr) return;
  for (int64_t i = 0; i < n; ++i)
    if (keep[i] == 0) {
      p[i] = 0.0f;
      if (c.momentum != 0.0f) momentum_buf[i] = 0.0f;
    }
}

}  // namespace stuckat
