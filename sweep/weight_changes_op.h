// add_weight_changes: y += layer(x, dW) for a conv or linear layer whose weights changed at a few
// entries (sweep_delta.h), on the tensors' device: the CPU loops of sweep_delta.cpp, or on the GPU
// one thread per output element adding its channel's changes in ascending weight order
// (sweep_delta_cuda.h). The sweep's model-copy path uses it for points that change few weights:
// the clean layer output plus the changes instead of the whole layer.
#pragma once
#include <cstdint>
#include <vector>

#include "sweep/sweep_delta.h"
#include "base/host_device.h"
#include "framework/tensor.h"

namespace stuckat::sweep {

struct LayerGeometry {
  bool conv = false;  // conv2d (x (n, in, h, w), y (n, out, ho, wo)) or linear (x (n, in), y (n, out))
  int64_t kh = 1, kw = 1, stride = 1, pad = 0;
};

// A layer's weight changes as add_weight_changes reads them: the list (indices into the layer's
// (out, in, kh, kw) or (out, in) weights, ascending) and the same grouped by output channel on
// the device (starts: out + 1 offsets; tap: the input feature of a linear layer, or
// tap_code(ci, ky, kx) of a conv filter tap; delta), views into buffers shared by every list
// packed together (undefined while no list has a change).
struct PackedChanges {
  std::vector<WeightChange> list;
  LayerGeometry geometry;  // conv or linear, and the filter size
  int64_t out = 0;         // the layer's output channels
  int64_t per_out = 0;     // weights per output channel (in * kh * kw, or in)
  Tensor starts, tap, delta;
};

// A conv filter tap as one int32: (input channel << 16) | (ky << 8) | kx, decoded with shifts
// on the GPU (a division by kw and kh per change and output element was the kernels' main cost).
// pack_weight_changes checks kh, kw <= 255 and input channels <= 32767.
STUCKAT_HD inline int32_t tap_code(int64_t ci, int64_t ky, int64_t kx) {
  return static_cast<int32_t>((ci << 16) | (ky << 8) | kx);
}
STUCKAT_HD inline int32_t tap_channel(int32_t code) { return code >> 16; }
STUCKAT_HD inline int32_t tap_ky(int32_t code) { return (code >> 8) & 0xFF; }
STUCKAT_HD inline int32_t tap_kx(int32_t code) { return code & 0xFF; }

// Checks each list's indices (ascending, within out * per_out, per_out a whole number of filter
// taps) and groups them on `device`: on
// the GPU all of them go up in two copies (one synchronisation for a whole sweep pass instead of
// three per point).
void pack_weight_changes(std::vector<PackedChanges>& lists, Device device);

// x, y contiguous f32 on `changes`' device (packed for it); y has changes.out channels.
void add_weight_changes(const Tensor& x, const Tensor& y, const LayerGeometry& g, const PackedChanges& changes);
// Several points' layer outputs at once: block p of y (rows [p n, (p + 1) n) of y's first
// dimension, n = x.size(0)) becomes clean + the changes of *lists[p]; a null entry leaves its
// block alone (the caller fills it). clean is the layer's output on x; every list is packed for
// y's device (together, or not). On the GPU one launch for up to 32 blocks instead of a copy and
// a launch per block.
void add_weight_changes_stacked(const Tensor& x, const Tensor& clean, const Tensor& y, const LayerGeometry& g,
                                const std::vector<const PackedChanges*>& lists);
// The same for one list, packed on the spot.
void add_weight_changes(const Tensor& x, const Tensor& y, const LayerGeometry& g, const std::vector<WeightChange>& changes);

}  // namespace stuckat::sweep
