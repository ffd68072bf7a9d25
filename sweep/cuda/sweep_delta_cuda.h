// The GPU side of add_weight_changes (weight_changes_op.h). Changes arrive grouped by output
// channel: starts[o] .. starts[o + 1] index `tap` (tap_code(ci, ky, kx) of a conv filter tap, or
// the input feature for linear) and `delta`, ascending. Declared without
// CUDA headers; defined only when the CUDA backend is built. Launch only (no synchronisation).
#pragma once
#include <cstdint>
#include "kernels/cuda/cuda_api.h"

namespace stuckat::sweep {

STUCKAT_CUDA_API void add_conv2d_changes_cuda(const float* x, float* y, int64_t n, int64_t in, int64_t h, int64_t w, int64_t out,
                                              int64_t kh, int64_t kw, int64_t stride, int64_t pad, int64_t ho, int64_t wo,
                                              const int32_t* starts, const int32_t* tap, const float* delta) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void add_linear_changes_cuda(const float* x, float* y, int64_t n, int64_t in, int64_t out, const int32_t* starts,
                                              const int32_t* tap, const float* delta) STUCKAT_CUDA_STUB;

// Stacked blocks (add_weight_changes_stacked): y holds `blocks` blocks of `per_block` values;
// block p becomes clean + the changes at starts[p] / tap[p] / delta[p] (starts[p] null: clean
// alone), or stays as it is when skip[p]. At most kStackedBlocks blocks per launch. The
// stacked channel pass (channel_delta_cuda.h) takes the same lists.
constexpr int kStackedBlocks = 32;
struct StackedChangeLists {
  const int32_t* starts[kStackedBlocks];
  const int32_t* tap[kStackedBlocks];
  const float* delta[kStackedBlocks];
  bool skip[kStackedBlocks];
};
// conv: x (n, in, h, w), clean and each block (n, out, ho, wo); linear: h = w = ho = wo = 1, stride 1, pad 0.
STUCKAT_CUDA_API void add_changes_stacked_cuda(bool conv, const float* x, const float* clean, float* y, int64_t blocks, int64_t n,
                                               int64_t in, int64_t h, int64_t w, int64_t out, int64_t stride, int64_t pad, int64_t ho,
                                               int64_t wo, const StackedChangeLists& lists) STUCKAT_CUDA_STUB;

// Loads these kernels now (kernels/cuda/preload.cuh).
STUCKAT_CUDA_API void preload_sweep_delta_kernels() STUCKAT_CUDA_STUB;

}  // namespace stuckat::sweep
