// Pictures of the per-layer weight histograms recorded during training (--histograms): one PNG
// per record, one bar chart per layer stacked top to bottom, so a drift or a collapse of the
// weights to zero is visible at a glance. Drawn on PngCanvas (no external plotting program).
#pragma once
#include <string>
#include <vector>

#include "framework/train/weight_histogram.h"

namespace stuckat {

struct LayerHistogram {
  std::string layer;
  WeightHistogram histogram;
};

// title: e.g. "epoch 5"; bars scaled to the layer's tallest bin; the x range and the counts of
// zeros and non-finite weights are written beside each chart. Throws InputError naming `path`
// when it cannot be written.
void write_weight_histogram_png(const std::string& title, const std::vector<LayerHistogram>& layers,
                                const std::string& path);

}  // namespace stuckat
