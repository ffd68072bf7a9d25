// Softmax cross-entropy (mean) and accuracy counting on the GPU: same formulas and signatures as
// kernels/cpu/cross_entropy.h; logits, labels, probs, dlogits in device memory. The scalar
// results (loss, count) are copied back to the host, the one synchronisation of a step.
// A label outside [0, k) gives a NaN loss (the CPU op rejects it before the kernel runs).
#pragma once
#include <cstdint>
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API float cross_entropy_forward(const float* logits, const int32_t* labels, float* probs, int64_t n, int64_t k) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void cross_entropy_backward(const float* probs, const int32_t* labels, float dloss, float* dlogits, int64_t n,
                                             int64_t k) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API int64_t count_correct(const float* logits, const int32_t* labels, int64_t n, int64_t k) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
