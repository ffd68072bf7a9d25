// SGD step (PyTorch semantics, see sgd_update.h): the reference walks the formula element by
// element with every branch inside the loop; the fast path hoists the branches so each case is
// one straight loop the compiler vectorises, and splits large parameters over threads.
// Every multiply-add is an explicit std::fma (one rounding): with -march=native the compiler
// would otherwise fuse some a*b+c and not others as it sees fit, and the result would depend on
// the compiler and on vectorisation. Explicit fmas make both paths agree bit for bit, and let a
// CUDA update that uses fmaf in the same places agree with them too (a requantised 16-bit weight
// can flip on one ulp).
#include "kernels/cpu/sgd_update.h"

#include <cmath>

namespace stuckat::cpu {

void sgd_update_ref(float* p, const float* grad, float* momentum_buf, int64_t n, const SgdConfig& c,
                    bool first_step) {
  for (int64_t i = 0; i < n; ++i) {
    float g = grad[i];
    if (c.weight_decay != 0.0f) g = std::fma(c.weight_decay, p[i], g);
    if (c.momentum != 0.0f) {
      if (first_step)
        momentum_buf[i] = g;  // PyTorch starts the buffer at the gradient, without dampening
      else
        momentum_buf[i] = std::fma(c.momentum, momentum_buf[i], (1.0f - c.dampening) * g);
      g = c.nesterov ? std::fma(c.momentum, momentum_buf[i], g) : momentum_buf[i];
    }
    p[i] = std::fma(-c.lr, g, p[i]);
  }
}

namespace {

// Below this many elements a thread team costs more than the loop (a few microseconds).
constexpr int64_t kParallelThreshold = 1 << 15;

template <bool WeightDecay, bool Momentum, bool FirstStep, bool Nesterov>
void sgd_loop(float* p, const float* grad, float* buf, int64_t n, const SgdConfig c) {
  const float neg_lr = -c.lr, wd = c.weight_decay, mom = c.momentum, keep = 1.0f - c.dampening;
#pragma omp parallel for simd schedule(static) if (n >= kParallelThreshold)
  for (int64_t i = 0; i < n; ++i) {
    float g = grad[i];
    if constexpr (WeightDecay) g = std::fma(wd, p[i], g);
    if constexpr (Momentum) {
      float b;
      if constexpr (FirstStep)
        b = g;
      else
        b = std::fma(mom, buf[i], keep * g);
      buf[i] = b;
      if constexpr (Nesterov)
        g = std::fma(mom, b, g);
      else
        g = b;
    }
    p[i] = std::fma(neg_lr, g, p[i]);
  }
}

template <bool WeightDecay>
void sgd_dispatch_momentum(float* p, const float* grad, float* buf, int64_t n, const SgdConfig& c, bool first) {
  if (c.momentum == 0.0f) return sgd_loop<WeightDecay, false, false, false>(p, grad, buf, n, c);
  if (first)
    return c.nesterov ? sgd_loop<WeightDecay, true, true, true>(p, grad, buf, n, c)
                      : sgd_loop<WeightDecay, true, true, false>(p, grad, buf, n, c);
  return c.nesterov ? sgd_loop<WeightDecay, true, false, true>(p, grad, buf, n, c)
                    : sgd_loop<WeightDecay, true, false, false>(p, grad, buf, n, c);
}

}  // namespace

void sgd_update(float* p, const float* grad, float* momentum_buf, int64_t n, const SgdConfig& c, bool first_step) {
  if (c.weight_decay != 0.0f)
    sgd_dispatch_momentum<true>(p, grad, momentum_buf, n, c, first_step);
  else
    sgd_dispatch_momentum<false>(p, grad, momentum_buf, n, c, first_step);
}

}  // namespace stuckat::cpu
