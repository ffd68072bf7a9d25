// Softmax cross-entropy with mean reduction on the CPU.
//   logits: (n, k)   labels: (n) int32 in [0, k)   probs: (n, k) softmax, saved for backward
// Forward returns mean over n of -log softmax(logits)[label] (computed with the max-shifted
// log-sum-exp so large logits do not overflow). Backward writes
//   dlogits = dloss * (probs - onehot(label)) / n.
#pragma once
#include <cstdint>

namespace stuckat::cpu {

template <typename T>
T cross_entropy_forward_ref(const T* logits, const int32_t* labels, T* probs, int64_t n, int64_t k);
template <typename T>
void cross_entropy_backward_ref(const T* probs, const int32_t* labels, T dloss, T* dlogits, int64_t n, int64_t k);

float cross_entropy_forward(const float* logits, const int32_t* labels, float* probs, int64_t n, int64_t k);
void cross_entropy_backward(const float* probs, const int32_t* labels, float dloss, float* dlogits, int64_t n,
                            int64_t k);

// Number of rows whose argmax (first maximum) equals the label.
int64_t count_correct(const float* logits, const int32_t* labels, int64_t n, int64_t k);

}  // namespace stuckat::cpu
