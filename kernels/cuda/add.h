// Elementwise add and subtract on the GPU (residual connections, gradient accumulation, sweeps).
// out = a + b over n floats, device memory; out may alias a or b (add_inplace passes dst twice).
#pragma once
#include <cstdint>
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API void add_forward(const float* a, const float* b, float* out, int64_t n) STUCKAT_CUDA_STUB;
// out = a - b (fault sweeps: a layer's faulted activations minus its clean ones).
STUCKAT_CUDA_API void sub_forward(const float* a, const float* b, float* out, int64_t n) STUCKAT_CUDA_STUB;
// out[i] = tile[i % m] + b[i] over n floats (m divides n; out may alias b).
STUCKAT_CUDA_API void add_tiled_forward(const float* tile, int64_t m, const float* b, float* out, int64_t n) STUCKAT_CUDA_STUB;
// Loads these kernels now (kernels/cuda/preload.cuh).
STUCKAT_CUDA_API void preload_add_kernels() STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
