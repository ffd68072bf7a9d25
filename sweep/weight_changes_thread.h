// The per-output-element bodies of the GPU's add_weight_changes kernels (sweep_delta_cuda.cu)
// as host/device functions, so tests/test_sweep_delta.cpp runs them for every element on the CPU
// against the CPU loops (sweep_delta.h) without a GPU. Changes come grouped by output channel
// (PackedChanges: starts, tap, delta); I is the index type (int32_t when every index fits).
#pragma once
#include <cstdint>

#include "sweep/weight_changes_op.h"
#include "base/host_device.h"

namespace stuckat::sweep {

// Conv output element e of (n, out, ho, wo): false when its channel has no change (y[e] stays),
// else true with *value = y[e] plus the channel's changes, in their order.
template <typename I>
STUCKAT_HD inline bool conv_change_at(const float* x, const float* y, I e, I in, I h, I w, I out, I stride, I pad, I ho,
                                      I wo, const int32_t* starts, const int32_t* tap, const float* delta, float* value) {
  const I plane = e / (ho * wo), o = plane % out;
  const int32_t first = starts[o], last = starts[o + 1];
  if (first == last) return false;
  float acc = y[e];
  const I q = e - plane * (ho * wo), img = plane / out, oy = q / wo, ox = q - oy * wo;
  const float* xi = x + img * in * h * w;
  for (int32_t j = first; j < last; ++j) {
    const int32_t t = tap[j];
    const I iy = oy * stride - pad + tap_ky(t), ix = ox * stride - pad + tap_kx(t);
    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
    acc += delta[j] * xi[(tap_channel(t) * h + iy) * w + ix];
  }
  *value = acc;
  return true;
}

// Linear output element e of (n, out), as conv_change_at (taps are input features).
template <typename I>
STUCKAT_HD inline bool linear_change_at(const float* x, const float* y, I e, I in, I out, const int32_t* starts,
                                        const int32_t* tap, const float* delta, float* value) {
  const I img = e / out, o = e - img * out;
  const int32_t first = starts[o], last = starts[o + 1];
  if (first == last) return false;
  float acc = y[e];
  for (int32_t j = first; j < last; ++j) acc += delta[j] * x[img * in + tap[j]];
  *value = acc;
  return true;
}

}  // namespace stuckat::sweep
