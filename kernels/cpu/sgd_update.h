// One SGD step over a parameter, in one pass (PyTorch's torch.optim.SGD semantics):
//   g = grad + weight_decay * p
//   if momentum != 0: buf = first_step ? g : momentum * buf + (1 - dampening) * g
//                     g = nesterov ? g + momentum * buf : buf
//   p -= lr * g
// The fault-aware variants (faults/) extend this pass with masks and requantisation.
#pragma once
#include <cstdint>

namespace stuckat::cpu {

struct SgdConfig {
  float lr, momentum, dampening, weight_decay;
  bool nesterov;
};

void sgd_update_ref(float* p, const float* grad, float* momentum_buf, int64_t n, const SgdConfig& c, bool first_step);
void sgd_update(float* p, const float* grad, float* momentum_buf, int64_t n, const SgdConfig& c, bool first_step);

}  // namespace stuckat::cpu
