// select_index on the GPU: dst (outer, k, block) = src (outer, extent, block) at the k given
// positions of the middle dimension, in their order. Up to kInlineIndices positions travel in the
// kernel's arguments (no upload, so no synchronisation: a sweep selects a few channels per point);
// longer lists are read from device memory. Launches on the default stream and checks the launch.
#pragma once
#include <cstdint>
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

constexpr int kInlineIndices = 128;

// index: k host values, each in [0, extent) (the caller checks); index_dev: the same k values in
// device memory, or null when k <= kInlineIndices.
STUCKAT_CUDA_API void select_blocks_f32(const float* src, int64_t outer, int64_t extent, int64_t block, const int64_t* index,
                                        const int32_t* index_dev, int64_t k, float* dst) STUCKAT_CUDA_STUB;

// Loads its kernels now (kernels/cuda/preload.cuh).
STUCKAT_CUDA_API void preload_select_blocks_kernels() STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
