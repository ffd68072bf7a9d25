// Flattens the layers (in order) into one array and selects there.
#include "pruning/global_magnitude.h"

#include <cmath>
#include <vector>

#include "base/error.h"
#include "pruning/magnitude_selection.h"

namespace stuckat {

int64_t kept_count_for_density(int64_t total, double density) {
  return static_cast<int64_t>(std::llround(density * static_cast<double>(total)));
}

void prune_global_magnitude(const Module& model, PruneMasks& masks, int64_t keep_total) {
  const std::vector<PrunableLayer> layers = prunable_layers(model);
  STUCKAT_CHECK(layers.size() == masks.size(), "{} masks for {} prunable layers", masks.size(), layers.size());
  std::vector<float> w;
  std::vector<uint8_t> eligible;
  for (size_t l = 0; l < layers.size(); ++l) {
    STUCKAT_CHECK(masks[l].layer == layers[l].name && masks[l].total() == layers[l].weight.numel(),
                  "mask {} does not fit layer {}", masks[l].layer, layers[l].name);
    const Tensor c = layers[l].weight.to(Device::CPU).contiguous();
    const float* p = c.data<float>();
    for (int64_t i = 0; i < c.numel(); ++i) {
      if (!std::isfinite(p[i]))
        throw_input_error("layer {} has a non-finite weight ({}); magnitude pruning needs finite weights", layers[l].name,
                          p[i]);
      w.push_back(p[i]);
    }
    eligible.insert(eligible.end(), masks[l].keep.begin(), masks[l].keep.end());
  }
  const int64_t kept = total_kept(masks);
  if (keep_total > kept)
    throw_input_error("--density asks to keep {} weights but only {} remain (the network is already sparser)", keep_total,
                      kept);
  std::vector<uint8_t> keep(w.size());
  keep_largest(w.data(), eligible.data(), static_cast<int64_t>(w.size()), keep_total, keep.data());
  size_t at = 0;
  for (LayerMask& m : masks)
    for (uint8_t& k : m.keep) k = keep[at++];
}

}  // namespace stuckat
