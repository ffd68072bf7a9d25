// One-shot pruning: a single global magnitude selection, optionally after per-layer floors.
#include "pruning/oneshot_prune.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "pruning/global_magnitude.h"
#include "pruning/magnitude_selection.h"

namespace stuckat {

void oneshot_global(const Module& model, PruneMasks& masks, double density) {
  STUCKAT_CHECK(density > 0.0 && density <= 1.0, "density {} outside (0, 1]", density);
  prune_global_magnitude(model, masks, kept_count_for_density(total_weights(masks), density));
}

int64_t layer_floor(int64_t total, double fraction) {
  if (fraction <= 0.0) return 0;
  const double x = fraction * static_cast<double>(total);
  int64_t k = static_cast<int64_t>(std::floor(x));
  // fraction * total is rarely exact in binary (0.005 * 48000 = 240.00000000000003): round up
  // only when the excess is more than rounding noise.
  if (x - static_cast<double>(k) > 1e-9 * std::max(1.0, x)) ++k;
  return std::min(total, std::max<int64_t>(k, 1));
}

BoundedOneshotReport oneshot_bounded(const Module& model, PruneMasks& masks, double density, double min_fc,
                                     double min_conv) {
  STUCKAT_CHECK(density > 0.0 && density <= 1.0, "density {} outside (0, 1]", density);
  const std::vector<PrunableLayer> layers = prunable_layers(model);
  STUCKAT_CHECK(layers.size() == masks.size(), "{} masks for {} prunable layers", masks.size(), layers.size());
  BoundedOneshotReport report;
  report.requested = kept_count_for_density(total_weights(masks), density);
  const int64_t remaining = total_kept(masks);
  if (report.requested > remaining)
    throw_input_error("--density asks to keep {} weights but only {} remain (the network is already sparser)",
                      report.requested, remaining);
  // 1. each layer's floor: its own largest weights
  PruneMasks floors = masks;
  int64_t floor_sum = 0;
  for (size_t l = 0; l < layers.size(); ++l) {
    LayerMask& m = floors[l];
    const int64_t f = std::min(layer_floor(m.total(), m.is_conv() ? min_conv : min_fc), masks[l].kept());
    report.floors.push_back(f);
    floor_sum += f;
    const Tensor c = layers[l].weight.to(Device::CPU).contiguous();
    keep_largest(c.data<float>(), masks[l].keep.data(), m.total(), f, m.keep.data());
  }
  // 2. the rest of the budget: the largest weights not yet kept, globally
  report.kept = std::max(report.requested, floor_sum);
  PruneMasks rest = masks;
  for (size_t l = 0; l < masks.size(); ++l)
    for (size_t i = 0; i < rest[l].keep.size(); ++i) rest[l].keep[i] = masks[l].keep[i] && !floors[l].keep[i];
  prune_global_magnitude(model, rest, report.kept - floor_sum);
  for (size_t l = 0; l < masks.size(); ++l)
    for (size_t i = 0; i < masks[l].keep.size(); ++i)
      masks[l].keep[i] = (floors[l].keep[i] || rest[l].keep[i]) ? 1 : 0;
  return report;
}

}  // namespace stuckat
