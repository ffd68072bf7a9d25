// The GPU side of add_weight_changes (weight_changes_op.h). Changes arrive grouped by output
// channel: starts[o] .. starts[o + 1] index `tap` (tap_code(ci, ky, kx) of a conv filter tap, or
// the input feature for linear) and `delta`, ascending. Declared without
// CUDA headers; defined only when the CUDA backend is built. Launch only (no synchronisation).
#pragma once
#include <cstdint>

namespace stuckat {

void add_conv2d_changes_cuda(const float* x, float* y, int64_t n, int64_t in, int64_t h, int64_t w, int64_t out,
                             int64_t kh, int64_t kw, int64_t stride, int64_t pad, int64_t ho, int64_t wo,
                             const int32_t* starts, const int32_t* tap, const float* delta);
void add_linear_changes_cuda(const float* x, float* y, int64_t n, int64_t in, int64_t out, const int32_t* starts,
                             const int32_t* tap, const float* delta);

}  // namespace stuckat
