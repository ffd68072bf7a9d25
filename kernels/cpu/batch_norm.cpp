// Fast float batch normalisation for CPU training. Each op is two sweeps over the data: one
// that sums per channel (in double, around a per-channel shift, so the one-pass variance does
// not cancel catastrophically) and one that applies a per-channel affine map. Every channel's
// sums run in a fixed order, so results do not depend on the thread count.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/batch_norm.h"

namespace stuckat::cpu {
namespace {

// Below this many values an OpenMP fork costs more than the sweep itself.
constexpr int64_t kParallelMinElements = 1 << 15;

bool worth_parallel(const BatchNormShape& s) { return s.n * s.c * s.hw >= kParallelMinElements; }

// Writes sum_a[c] = sum of a and sum_b[c] = sum of b over the n*hw values of channel c, where
// terms(at, c, a, b) produces the two terms for the value at flat index `at`.
template <typename Terms>
void sum_per_channel(const BatchNormShape& s, Terms terms, double* sum_a, double* sum_b) {
  if (s.hw == 1) {
    // (n, c) rows, as after a linear layer: vectorise across channels; each thread owns a
    // block of channels and walks the rows in order.
#pragma omp parallel if (worth_parallel(s))
    {
      const Terms local_terms = terms;  // thread-local copy, see the hw > 1 loop below
      const int64_t channels = s.c, threads = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t c0 = channels * t / threads, c1 = channels * (t + 1) / threads;
      std::fill(sum_a + c0, sum_a + c1, 0.0);
      std::fill(sum_b + c0, sum_b + c1, 0.0);
      for (int64_t n = 0; n < s.n; ++n) {
#pragma omp simd
        for (int64_t c = c0; c < c1; ++c) {
          double a, b;
          local_terms(n * channels + c, c, a, b);
          sum_a[c] += a;
          sum_b[c] += b;
        }
      }
    }
    return;
  }
#pragma omp parallel for schedule(static) if (worth_parallel(s))
  for (int64_t c = 0; c < s.c; ++c) {
    // Thread-local copies: through the shared originals GCC leaves the inner loop scalar.
    const Terms local_terms = terms;
    const int64_t channels = s.c, hw = s.hw;
    double total_a = 0, total_b = 0;
    for (int64_t n = 0; n < s.n; ++n) {
      const int64_t base = (n * channels + c) * hw;
#pragma omp simd reduction(+ : total_a, total_b)
      for (int64_t i = 0; i < hw; ++i) {
        double a, b;
        local_terms(base + i, c, a, b);
        total_a += a;
        total_b += b;
      }
    }
    sum_a[c] = total_a;
    sum_b[c] = total_b;
  }
}

// Calls apply(at, c) for every value, parallel over samples, vectorised along memory.
template <typename Apply>
void for_each_value(const BatchNormShape& s, Apply apply) {
#pragma omp parallel for schedule(static) if (worth_parallel(s))
  for (int64_t n = 0; n < s.n; ++n) {
    const Apply local_apply = apply;  // see sum_per_channel
    const int64_t channels = s.c, hw = s.hw;
    if (hw == 1) {
#pragma omp simd
      for (int64_t c = 0; c < channels; ++c) local_apply(n * channels + c, c);
    } else {
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t base = (n * channels + c) * hw;
#pragma omp simd
        for (int64_t i = 0; i < hw; ++i) local_apply(base + i, c);
      }
    }
  }
}

}  // namespace

void batch_norm_forward_train(const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                              float* save_invstd, float* running_mean, float* running_var, float momentum, float eps,
                              const BatchNormShape& s) {
  const auto count = static_cast<double>(s.n * s.hw);
  std::vector<double> shift(s.c), sum_d(s.c), sum_d2(s.c);
  for (int64_t c = 0; c < s.c; ++c) shift[c] = x[c * s.hw];  // any sample of the channel keeps d small
  const double* shift_p = shift.data();
  sum_per_channel(
      s,
      [=](int64_t at, int64_t c, double& a, double& b) {
        const double d = static_cast<double>(x[at]) - shift_p[c];
        a = d;
        b = d * d;
      },
      sum_d.data(), sum_d2.data());

  std::vector<float> mean(s.c), scale(s.c);
  for (int64_t c = 0; c < s.c; ++c) {
    const double mean_d = sum_d[c] / count;
    const double var = std::max(0.0, sum_d2[c] / count - mean_d * mean_d);  // biased
    const double invstd = 1.0 / std::sqrt(var + eps);
    const double unbiased_var = var * count / (count - 1.0);
    mean[c] = static_cast<float>(shift[c] + mean_d);
    scale[c] = static_cast<float>(gamma[c] * invstd);
    save_mean[c] = mean[c];
    save_invstd[c] = static_cast<float>(invstd);
    running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean[c];
    running_var[c] = (1.0f - momentum) * running_var[c] + momentum * static_cast<float>(unbiased_var);
  }
  const float *mean_p = mean.data(), *scale_p = scale.data();
  for_each_value(s, [=](int64_t at, int64_t c) { y[at] = (x[at] - mean_p[c]) * scale_p[c] + beta[c]; });
}

void batch_norm_forward_eval(const float* x, const float* gamma, const float* beta, const float* running_mean,
                             const float* running_var, float eps, float* y, const BatchNormShape& s) {
  std::vector<float> scale(s.c);
  for (int64_t c = 0; c < s.c; ++c) scale[c] = gamma[c] / std::sqrt(running_var[c] + eps);
  const float* scale_p = scale.data();
  for_each_value(s, [=](int64_t at, int64_t c) { y[at] = (x[at] - running_mean[c]) * scale_p[c] + beta[c]; });
}

// dx = gamma*invstd*dy - gamma*invstd*sum(dy)/m - gamma*invstd^3*sum(dy*(x-mean))/m * (x-mean),
// the reference formula with xhat expanded, so the second sweep is one affine map per channel.
void batch_norm_backward(const float* x, const float* gamma, const float* save_mean, const float* save_invstd,
                         const float* dy, float* dx, float* dgamma, float* dbeta, const BatchNormShape& s) {
  const auto count = static_cast<double>(s.n * s.hw);
  std::vector<double> sum_dy(s.c), sum_dy_xc(s.c);
  sum_per_channel(
      s,
      [=](int64_t at, int64_t c, double& a, double& b) {
        a = dy[at];
        b = static_cast<double>(dy[at]) * (static_cast<double>(x[at]) - save_mean[c]);
      },
      sum_dy.data(), sum_dy_xc.data());

  std::vector<float> k_dy(s.c), k_xc(s.c), k_const(s.c);
  for (int64_t c = 0; c < s.c; ++c) {
    const double invstd = save_invstd[c], g = gamma[c];
    dbeta[c] = static_cast<float>(sum_dy[c]);
    dgamma[c] = static_cast<float>(sum_dy_xc[c] * invstd);
    k_dy[c] = static_cast<float>(g * invstd);
    k_xc[c] = static_cast<float>(-g * invstd * invstd * invstd * sum_dy_xc[c] / count);
    k_const[c] = static_cast<float>(-g * invstd * sum_dy[c] / count);
  }
  const float *k_dy_p = k_dy.data(), *k_xc_p = k_xc.data(), *k_const_p = k_const.data();
  for_each_value(s, [=](int64_t at, int64_t c) {
    dx[at] = k_dy_p[c] * dy[at] + k_xc_p[c] * (x[at] - save_mean[c]) + k_const_p[c];
  });
}

}  // namespace stuckat::cpu
