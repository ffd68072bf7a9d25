// Batch normalisation on the CPU over x: (n, c, hw) — hw = h*w for BatchNorm2d, 1 for
// BatchNorm1d. Statistics are per channel over n*hw values.
// Training forward: normalises with the batch mean and biased variance, writes save_mean and
// save_invstd = 1/sqrt(var + eps) for backward, and updates the running statistics in place:
//   running = (1 - momentum) * running + momentum * batch  (running_var uses the unbiased var).
// Eval forward: normalises with the running statistics.
// Backward (training mode) overwrites dx, dgamma, dbeta.
#pragma once
#include <cstdint>

namespace stuckat::cpu {

struct BatchNormShape {
  int64_t n, c, hw;
};

template <typename T>
void batch_norm_forward_train_ref(const T* x, const T* gamma, const T* beta, T* y, T* save_mean, T* save_invstd,
                                  T* running_mean, T* running_var, T momentum, T eps, const BatchNormShape& s);
template <typename T>
void batch_norm_forward_eval_ref(const T* x, const T* gamma, const T* beta, const T* running_mean,
                                 const T* running_var, T eps, T* y, const BatchNormShape& s);
template <typename T>
void batch_norm_backward_ref(const T* x, const T* gamma, const T* save_mean, const T* save_invstd, const T* dy,
                             T* dx, T* dgamma, T* dbeta, const BatchNormShape& s);

void batch_norm_forward_train(const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                              float* save_invstd, float* running_mean, float* running_var, float momentum, float eps,
                              const BatchNormShape& s);
void batch_norm_forward_eval(const float* x, const float* gamma, const float* beta, const float* running_mean,
                             const float* running_var, float eps, float* y, const BatchNormShape& s);
void batch_norm_backward(const float* x, const float* gamma, const float* save_mean, const float* save_invstd,
                         const float* dy, float* dx, float* dgamma, float* dbeta, const BatchNormShape& s);

}  // namespace stuckat::cpu
