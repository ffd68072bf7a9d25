// The readable reference of the masked SGD step (the test oracle), element by element.
#include <cmath>

#include "pruning/masked_sgd_update.h"

namespace stuckat {

void masked_sgd_update_ref(float* p, const float* grad, float* momentum_buf, const uint8_t* keep, int64_t n,
                           const cpu::SgdConfig& c, bool first_step) {
  for (int64_t i = 0; i < n; ++i) {
    if (keep != nullptr && keep[i] == 0) {
      p[i] = 0.0f;
      if (c.momentum != 0.0f) momentum_buf[i] = 0.0f;
      continue;
    }
    float g = grad[i];
    if (c.weight_decay != 0.0f) g = std::fma(c.weight_decay, p[i], g);
    if (c.momentum != 0.0f) {
      if (first_step)
        momentum_buf[i] = g;
      else
        momentum_buf[i] = std::fma(c.momentum, momentum_buf[i], (1.0f - c.dampening) * g);
      g = c.nesterov ? std::fma(c.momentum, momentum_buf[i], g) : momentum_buf[i];
    }
    p[i] = std::fma(-c.lr, g, p[i]);
  }
}

}  // namespace stuckat
