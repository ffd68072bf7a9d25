// The first half of a sweep point's channel path (sweep_runner.cpp) in one pass, for a layer
// whose stage continues with ReLU and an optional max pool (in either order) and an optional
// flatten (ForwardStage::after_relu_pool): for the k output channels c_j the point's faults
// changed,
//   out[i, j, py, px] = pool(relu(clean_out[i, c_j] + layer(x, dW)[i, j]))[py, px] - ref[i, c_j, py, px]
// with ref the clean activations the next layer reads. One read of those channels of the clean
// output and one write of the pooled difference replace select_index, add_weight_changes, relu,
// max_pool2d, select_index and sub_inplace: six passes, four of them at the un-pooled size.
// Per output element the same arithmetic in the same order as that chain (changes added in
// ascending weight order, the relu and max-pool rules of kernels/cpu), so it equals the chain
// up to the compiler's fused multiply-adds.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "sweep/weight_changes_op.h"
#include "base/host_device.h"
#include "framework/tensor.h"
#include "kernels/cpu/pool2d_window.h"

namespace stuckat::sweep {

struct ChannelDeltaDims {
  int64_t n = 0, k = 0, c = 0;         // images, changed channels, the layer's output channels
  bool conv = false;                   // taps coded by tap_code (a linear layer's are input features)
  int64_t in = 0, h = 1, w = 1;        // layer input (n, in, h, w); a linear layer has h = w = 1
  int64_t kh = 1, kw = 1, stride = 1, pad = 0;
  int64_t ho = 1, wo = 1;              // layer output plane
  int64_t pool_k = 0, pool_stride = 1;  // pool_k = 0: no pool
  bool pool_first = false;              // the max pool before the ReLU (they commute up to the sign of a zero)
  int64_t ph = 1, pw = 1;              // output plane (after the pool)
};

// The selected channel (index into the k channels) of output element e of (n, k, ph, pw).
// I: the index type, int32_t whenever every index fits (channel_delta_fits_int32; integer
// division is emulated on the GPU, and 64-bit costs several times 32-bit), else int64_t.
template <typename I>
STUCKAT_HD inline I channel_delta_slot(const ChannelDeltaDims& d, I e) {
  return e / static_cast<I>(d.pw * d.ph) % static_cast<I>(d.k);
}

// Output element e of (n, k, ph, pw), whose selected channel is the layer's channel c.
// starts/tap/delta: the changes grouped by selected channel (PackedChanges with out = k), or
// starts == nullptr for none.
template <typename I>
STUCKAT_HD inline float channel_delta_at(const float* x, const float* clean_out, const float* ref, const int32_t* starts,
                                         const int32_t* tap, const float* delta, const ChannelDeltaDims& d, I e, I c) {
  const I pw = static_cast<I>(d.pw), ph = static_cast<I>(d.ph), k = static_cast<I>(d.k), h = static_cast<I>(d.h),
          w = static_cast<I>(d.w), wo = static_cast<I>(d.wo), stride = static_cast<I>(d.stride), pad = static_cast<I>(d.pad);
  const I row = e / pw, px = e - row * pw, rows = row / ph, py = row - rows * ph, img = rows / k, j = rows - img * k;
  const int32_t first = starts ? starts[j] : 0, last = starts ? starts[j + 1] : 0;
  const I window = d.pool_k > 0 ? static_cast<I>(d.pool_k) : 1;
  const I y0 = d.pool_k > 0 ? py * static_cast<I>(d.pool_stride) : py, x0 = d.pool_k > 0 ? px * static_cast<I>(d.pool_stride) : px;
  const float* plane = clean_out + (img * static_cast<I>(d.c) + c) * static_cast<I>(d.ho) * wo;
  const float* xi = x + img * static_cast<I>(d.in) * h * w;
  float best = 0.0f;
  for (I wy = 0; wy < window; ++wy)
    for (I wx = 0; wx < window; ++wx) {
      const I oy = y0 + wy, ox = x0 + wx;
      float v = plane[oy * wo + ox];
      for (int32_t t = first; t < last; ++t) {
        const int32_t tp = tap[t];
        const I ky = d.conv ? tap_ky(tp) : 0, kx = d.conv ? tap_kx(tp) : 0, ci = d.conv ? tap_channel(tp) : tp;
        const I iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
        if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
        v += delta[t] * xi[(ci * h + iy) * w + ix];
      }
      if (!d.pool_first) v = v < 0.0f ? 0.0f : v;  // relu_forward: NaN passes
      if ((wy == 0 && wx == 0) || cpu::max_pool_takes(v, best)) best = v;
    }
  if (d.pool_first) best = best < 0.0f ? 0.0f : best;
  return best - ref[((img * static_cast<I>(d.c) + c) * ph + py) * pw + px];
}

// Element le of one point's block in relu_pool_channel_delta_stacked: channel slot j of the
// layer's d.c channels (d.k == d.c), the changes grouped by all d.c channels; a channel without
// changes gives exactly 0 (no arithmetic: a NaN elsewhere in the clean output stays out).
template <typename I>
STUCKAT_HD inline float channel_delta_all_at(const float* x, const float* clean_out, const float* ref,
                                             const int32_t* starts, const int32_t* tap, const float* delta,
                                             const ChannelDeltaDims& d, I le) {
  if (starts == nullptr) return 0.0f;
  const I j = channel_delta_slot<I>(d, le);
  if (starts[j] == starts[j + 1]) return 0.0f;
  return channel_delta_at<I>(x, clean_out, ref, starts, tap, delta, d, le, j);
}

// Whether every index channel_delta_at forms fits int32_t.
inline bool channel_delta_fits_int32(const ChannelDeltaDims& d) {
  const int64_t largest = std::max({d.n * d.k * d.ph * d.pw, d.n * d.c * d.ho * d.wo, d.n * d.in * d.h * d.w,
                                    d.n * d.c * d.ph * d.pw}) + (d.h + d.w) * (d.stride + 1) + d.pad;
  return largest < (int64_t{1} << 31) - 1;
}

// The op: x, clean_out (n, c, ho, wo) or (n, c), ref (the next layer's clean input, n * c * ph * pw
// values in channel blocks), all contiguous f32 on one device; `changes` packed for that device
// with out = channels.size(). Returns (n, k, ph, pw) (or (n, k) for a linear layer without pool).
// pool_first: the max pool runs before the ReLU.
Tensor relu_pool_channel_delta(const Tensor& x, const Tensor& clean_out, const LayerGeometry& g,
                               const PackedChanges& changes, const std::vector<int64_t>& channels, int64_t pool_k,
                               int64_t pool_stride, bool pool_first, const Tensor& ref);

// Several points at once, over all of the layer's channels: block p of the result (rows
// [p n, (p + 1) n)) holds relu_pool_channel_delta of *lists[p] on every channel, exactly 0 on
// the channels it does not change; a null entry gives a block of zeros. Each list is packed for
// the tensors' device with out = the layer's channels (all of them, not a selection). Returns
// (P n, c, ph, pw), or (P n, c) for a linear layer without pool: the next layer applied to it,
// plus its clean output per block, is each point's next-layer output (one GEMM for the pass).
Tensor relu_pool_channel_delta_stacked(const Tensor& x, const Tensor& clean_out, const LayerGeometry& g,
                                       const std::vector<const PackedChanges*>& lists, int64_t pool_k,
                                       int64_t pool_stride, bool pool_first, const Tensor& ref);

}  // namespace stuckat::sweep
