// block_scores on the GPU: one block of threads per point, row losses summed in a fixed order
// (deterministic). Declared without CUDA headers; defined only when the CUDA backend is built.
#pragma once
#include <cstdint>
#include "kernels/cuda/cuda_api.h"

namespace stuckat::sweep {

// logits (blocks * n, k), labels (n), loss (blocks), correct (blocks): GPU memory. Launches
// without synchronising; needs n < 2^24 (the counts are summed as exact floats).
STUCKAT_CUDA_API void block_scores_cuda(const float* logits, const int32_t* labels, int64_t blocks, int64_t n, int64_t k, float* loss,
                                        int64_t* correct) STUCKAT_CUDA_STUB;
// Loads its kernel now (kernels/cuda/preload.cuh).
STUCKAT_CUDA_API void preload_block_scores_kernels() STUCKAT_CUDA_STUB;

}  // namespace stuckat::sweep
