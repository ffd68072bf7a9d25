// Softmax cross-entropy and accuracy counting on the CPU: the reference loops (test oracle)
// and the fast float path used in training. Both shift each row by its maximum before exp so
// large logits (e.g. from a stuck high bit) cannot overflow.
#include "kernels/cpu/cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace stuckat::cpu {
namespace {
// Below this many logits an OpenMP fork costs more than the rows themselves.
constexpr int64_t kParallelMinElements = 1 << 15;
}  // namespace

template <typename T>
T cross_entropy_forward_ref(const T* logits, const int32_t* labels, T* probs, int64_t n, int64_t k) {
  T total = 0;
  for (int64_t r = 0; r < n; ++r) {
    const T* row = logits + r * k;
    T max = row[0];
    for (int64_t j = 1; j < k; ++j) max = std::max(max, row[j]);
    T sum = 0;
    for (int64_t j = 0; j < k; ++j) sum += std::exp(row[j] - max);
    for (int64_t j = 0; j < k; ++j) probs[r * k + j] = std::exp(row[j] - max) / sum;
    // -log softmax[label] = log(sum exp(row)) - row[label] = max + log(sum) - row[label]
    total += max + std::log(sum) - row[labels[r]];
  }
  return total / T(n);
}

template <typename T>
void cross_entropy_backward_ref(const T* probs, const int32_t* labels, T dloss, T* dlogits, int64_t n, int64_t k) {
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < k; ++j) {
      T onehot = j == labels[r] ? T(1) : T(0);
      dlogits[r * k + j] = dloss * (probs[r * k + j] - onehot) / T(n);
    }
  }
}

template float cross_entropy_forward_ref<float>(const float*, const int32_t*, float*, int64_t, int64_t);
template double cross_entropy_forward_ref<double>(const double*, const int32_t*, double*, int64_t, int64_t);
template void cross_entropy_backward_ref<float>(const float*, const int32_t*, float, float*, int64_t, int64_t);
template void cross_entropy_backward_ref<double>(const double*, const int32_t*, double, double*, int64_t, int64_t);

float cross_entropy_forward(const float* logits, const int32_t* labels, float* probs, int64_t n, int64_t k) {
  // Per-row losses summed afterwards in row order, so the mean does not depend on threads.
  std::vector<double> row_loss(n);
#pragma omp parallel for schedule(static) if (n * k >= kParallelMinElements)
  for (int64_t r = 0; r < n; ++r) {
    const float* row = logits + r * k;
    float* p = probs + r * k;
    float max = row[0];
    for (int64_t j = 1; j < k; ++j) max = row[j] > max ? row[j] : max;
    float sum = 0.0f;
    for (int64_t j = 0; j < k; ++j) {
      p[j] = std::exp(row[j] - max);
      sum += p[j];
    }
    const float inv_sum = 1.0f / sum;
    for (int64_t j = 0; j < k; ++j) p[j] *= inv_sum;
    row_loss[r] = std::log(static_cast<double>(sum)) - (static_cast<double>(row[labels[r]]) - max);
  }
  double total = 0;
  for (int64_t r = 0; r < n; ++r) total += row_loss[r];
  return static_cast<float>(total / static_cast<double>(n));
}

void cross_entropy_backward(const float* probs, const int32_t* labels, float dloss, float* dlogits, int64_t n,
                            int64_t k) {
  const float scale = dloss / static_cast<float>(n);
#pragma omp parallel for schedule(static) if (n * k >= kParallelMinElements)
  for (int64_t r = 0; r < n; ++r) {
#pragma omp simd
    for (int64_t j = 0; j < k; ++j) dlogits[r * k + j] = probs[r * k + j] * scale;
    dlogits[r * k + labels[r]] -= scale;
  }
}

int64_t count_correct(const float* logits, const int32_t* labels, int64_t n, int64_t k) {
  int64_t correct = 0;
  for (int64_t r = 0; r < n; ++r) {
    const float* row = logits + r * k;
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (row[j] > row[best]) best = j;  // strict: the first maximum wins a tie
    if (best == labels[r]) ++correct;
  }
  return correct;
}

}  // namespace stuckat::cpu
