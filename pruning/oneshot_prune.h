// One-shot magnitude pruning: global, and bounded, with a per-layer floor so that no
// layer is pruned away entirely (one-shot collapses when a whole layer disappears).
#pragma once
#include <cstdint>
#include <vector>

#include "framework/nn/module.h"
#include "pruning/prune_mask.h"

namespace stuckat {

// Keeps round(density * total) weights of the model, by global magnitude, among those `masks`
// keeps (start from dense_masks for an unpruned model). density in (0, 1].
void oneshot_global(const Module& model, PruneMasks& masks, double density);

// The floor of a layer: the least k with k >= fraction * total (at least 1 when fraction > 0),
// so kept / total >= fraction holds.
int64_t layer_floor(int64_t total, double fraction);

struct BoundedOneshotReport {
  std::vector<int64_t> floors;  // per layer, in mask order
  int64_t requested = 0;        // round(density * total)
  int64_t kept = 0;             // max(requested, sum of floors), capped by what remains
};

// Each layer first keeps its floor (its largest weights; conv layers min_conv, linear layers
// min_fc of their weights, capped by what the layer still keeps), then the rest of the budget
// goes to the largest remaining weights globally. When the floors alone exceed the budget the
// floors win and the result is denser than asked (the report says by how much).
BoundedOneshotReport oneshot_bounded(const Module& model, PruneMasks& masks, double density, double min_fc,
                                     double min_conv);

}  // namespace stuckat
