// PruneMasks: which weights of each conv/linear layer remain (1) and which are pruned (0).
// Prunable layers are the faultable ones (faults/faulty_model.h): parameters "<layer>.weight"
// with two or more dimensions, conv (out, in, kh, kw) and linear (out, in). A pruned weight is
// exactly 0 in the model and stays 0 through training (MaskedSgd, FaultAwareSgd).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "framework/nn/module.h"

namespace stuckat {

struct LayerMask {
  std::string layer;           // e.g. "conv2", "features.0"
  Shape shape;                 // the weight's shape
  std::vector<uint8_t> keep;   // numel entries in row-major order: 1 = kept, 0 = pruned
  int64_t total() const { return static_cast<int64_t>(keep.size()); }
  int64_t kept() const;
  bool is_conv() const { return shape.size() == 4; }
};

// One entry per prunable layer, in the model's registration order.
using PruneMasks = std::vector<LayerMask>;

struct PrunableLayer {
  std::string name;  // layer name
  Tensor weight;     // the model's parameter (shared storage)
};

// The model's prunable layers in registration order.
std::vector<PrunableLayer> prunable_layers(const Module& model);

// Every weight kept.
PruneMasks dense_masks(const Module& model);

// Masks that keep exactly the nonzero weights (a checkpoint pruned by another tool).
PruneMasks nonzero_masks(const Module& model);

// Sets the pruned weights of the model to exactly 0 (masks must come from this architecture),
// on the CPU or, for weights on the GPU, with a kernel there.
void apply_masks(const Module& model, const PruneMasks& masks);

// The mask as a U8 tensor of m.total() entries on `device`.
Tensor keep_tensor(const LayerMask& m, Device device);

// The mask of `layer`, or null.
const LayerMask* find_mask(const PruneMasks& masks, const std::string& layer);

int64_t total_weights(const PruneMasks& masks);
int64_t total_kept(const PruneMasks& masks);

}  // namespace stuckat
