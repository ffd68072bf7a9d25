// add_weight_changes: y += layer(x, dW) for a conv or linear layer whose weights changed at a few
// entries (sweep_delta.h), on the tensors' device: the CPU loops of sweep_delta.cpp, or on the GPU
// one thread per output element adding its channel's changes in ascending weight order
// (sweep_delta_cuda.h). The sweep's model-copy path uses it for points that change few weights:
// the clean layer output plus the changes instead of the whole layer.
#pragma once
#include <cstdint>
#include <vector>

#include "faults/sweep_delta.h"
#include "framework/tensor.h"

namespace stuckat {

struct LayerGeometry {
  bool conv = false;  // conv2d (x (n, in, h, w), y (n, out, ho, wo)) or linear (x (n, in), y (n, out))
  int64_t kh = 1, kw = 1, stride = 1, pad = 0;
};

// x, y contiguous f32 on one device; changes index the layer's (out, in, kh, kw) or (out, in)
// weights, ascending.
void add_weight_changes(const Tensor& x, const Tensor& y, const LayerGeometry& g, const std::vector<WeightChange>& changes);

}  // namespace stuckat
