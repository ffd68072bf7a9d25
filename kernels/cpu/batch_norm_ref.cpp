// Reference batch normalisation: the textbook two-pass formulas, one channel at a time. This
// is the test oracle for the fast CPU path and the CUDA kernels; keep it plain.
#include <cmath>

#include "kernels/cpu/batch_norm.h"

namespace stuckat::cpu {

template <typename T>
void batch_norm_forward_train_ref(const T* x, const T* gamma, const T* beta, T* y, T* save_mean, T* save_invstd,
                                  T* running_mean, T* running_var, T momentum, T eps, const BatchNormShape& s) {
  const int64_t count = s.n * s.hw;  // values per channel
  for (int64_t c = 0; c < s.c; ++c) {
    T sum = 0;
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t i = 0; i < s.hw; ++i) sum += x[(n * s.c + c) * s.hw + i];
    const T mean = sum / T(count);
    T squares = 0;
    for (int64_t n = 0; n < s.n; ++n) {
      for (int64_t i = 0; i < s.hw; ++i) {
        T d = x[(n * s.c + c) * s.hw + i] - mean;
        squares += d * d;
      }
    }
    const T var = squares / T(count);  // biased: what the batch is normalised with
    const T invstd = T(1) / std::sqrt(var + eps);
    for (int64_t n = 0; n < s.n; ++n) {
      for (int64_t i = 0; i < s.hw; ++i) {
        int64_t at = (n * s.c + c) * s.hw + i;
        y[at] = (x[at] - mean) * invstd * gamma[c] + beta[c];
      }
    }
    save_mean[c] = mean;
    save_invstd[c] = invstd;
    const T unbiased_var = squares / T(count - 1);  // what PyTorch tracks as the running variance
    running_mean[c] = (T(1) - momentum) * running_mean[c] + momentum * mean;
    running_var[c] = (T(1) - momentum) * running_var[c] + momentum * unbiased_var;
  }
}

template <typename T>
void batch_norm_forward_eval_ref(const T* x, const T* gamma, const T* beta, const T* running_mean,
                                 const T* running_var, T eps, T* y, const BatchNormShape& s) {
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t c = 0; c < s.c; ++c) {
      for (int64_t i = 0; i < s.hw; ++i) {
        int64_t at = (n * s.c + c) * s.hw + i;
        y[at] = (x[at] - running_mean[c]) / std::sqrt(running_var[c] + eps) * gamma[c] + beta[c];
      }
    }
  }
}

// With xhat = (x - mean) * invstd and m values per channel:
//   dbeta = sum(dy), dgamma = sum(dy * xhat),
//   dx = gamma * invstd / m * (m * dy - dbeta - xhat * dgamma).
template <typename T>
void batch_norm_backward_ref(const T* x, const T* gamma, const T* save_mean, const T* save_invstd, const T* dy,
                             T* dx, T* dgamma, T* dbeta, const BatchNormShape& s) {
  const T count = T(s.n * s.hw);
  for (int64_t c = 0; c < s.c; ++c) {
    T sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t n = 0; n < s.n; ++n) {
      for (int64_t i = 0; i < s.hw; ++i) {
        int64_t at = (n * s.c + c) * s.hw + i;
        sum_dy += dy[at];
        sum_dy_xhat += dy[at] * (x[at] - save_mean[c]) * save_invstd[c];
      }
    }
    dbeta[c] = sum_dy;
    dgamma[c] = sum_dy_xhat;
    for (int64_t n = 0; n < s.n; ++n) {
      for (int64_t i = 0; i < s.hw; ++i) {
        int64_t at = (n * s.c + c) * s.hw + i;
        T xhat = (x[at] - save_mean[c]) * save_invstd[c];
        dx[at] = gamma[c] * save_invstd[c] / count * (count * dy[at] - sum_dy - xhat * sum_dy_xhat);
      }
    }
  }
}

#define STUCKAT_INSTANTIATE_BATCH_NORM_REF(T)                                                                     \
  template void batch_norm_forward_train_ref<T>(const T*, const T*, const T*, T*, T*, T*, T*, T*, T, T,          \
                                                const BatchNormShape&);                                          \
  template void batch_norm_forward_eval_ref<T>(const T*, const T*, const T*, const T*, const T*, T, T*,          \
                                               const BatchNormShape&);                                           \
  template void batch_norm_backward_ref<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*,         \
                                           const BatchNormShape&);
STUCKAT_INSTANTIATE_BATCH_NORM_REF(float)
STUCKAT_INSTANTIATE_BATCH_NORM_REF(double)
#undef STUCKAT_INSTANTIATE_BATCH_NORM_REF

}  // namespace stuckat::cpu
