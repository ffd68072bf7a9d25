// Global magnitude pruning over all prunable layers at once: the layers' weights are ranked
// together (layer order, then row-major index, breaks ties), so larger layers, whose weights
// are smaller, are pruned faster.
#pragma once
#include <cstdint>

#include "framework/nn/module.h"
#include "pruning/prune_mask.h"

namespace stuckat {

// Keeps exactly `keep_total` of the weights `masks` currently keeps, those of largest |w| over
// all layers; the rest become pruned in `masks` (the model is not changed). Throws InputError
// when keep_total exceeds the kept count (pruning cannot bring weights back).
void prune_global_magnitude(const Module& model, PruneMasks& masks, int64_t keep_total);

// round(density * total): the number of weights a density keeps.
int64_t kept_count_for_density(int64_t total, double density);

}  // namespace stuckat
