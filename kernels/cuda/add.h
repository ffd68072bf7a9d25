// Elementwise add and subtract on the GPU (residual connections, gradient accumulation, sweeps).
// out = a + b over n floats, device memory; out may alias a or b (add_inplace passes dst twice).
#pragma once
#include <cstdint>

namespace stuckat::cuda {

void add_forward(const float* a, const float* b, float* out, int64_t n);
// out = a - b (fault sweeps: a layer's faulted activations minus its clean ones).
void sub_forward(const float* a, const float* b, float* out, int64_t n);
// out[i] = tile[i % m] + b[i] over n floats (m divides n; out may alias b).
void add_tiled_forward(const float* tile, int64_t m, const float* b, float* out, int64_t n);
// Loads these kernels now (kernels/cuda/preload.cuh).
void preload_add_kernels();

}  // namespace stuckat::cuda
