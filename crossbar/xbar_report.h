// The crossbar report: per layer and in total, the in-place counts, the theory beside them, the
// lower bound, and the tiles each strategy needs; written as a text table, JSON and CSV.
// Convention stated in every output: rows = inputs (wordlines), cols = outputs (bitlines).
#pragma once
#include <string>
#include <vector>

#include "crossbar/lower_bound.h"
#include "crossbar/tile_counts.h"
#include "crossbar/tile_shape.h"
#include "crossbar/tile_theory.h"

namespace stuckat::xbar {

inline constexpr const char* kConvention = "rows = inputs (wordlines: in_channels*kh*kw or in_features), "
                                           "cols = outputs (bitlines: out_channels or out_features)";

struct StrategyRun {
  std::string name;
  int64_t tiles_used = 0;
  double seconds = 0;
  bool verified = false;  // the layout was checked (not skipped by --no-verify)
};

struct LayerReport {
  std::string name, shape;
  int64_t rows = 0, cols = 0;
  TileCounts counts;
  TileLowerBound bound;
  std::vector<StrategyRun> strategies;
  double cells = 0;  // rows * cols (summed over layers in the total)
  double density() const { return cells > 0 ? double(counts.nnz) / cells : 0.0; }
};

struct XbarReport {
  TileShape shape;
  std::string source;
  std::vector<LayerReport> layers;
  LayerReport total() const;  // counts, bounds and strategy tiles/seconds summed over layers
};

std::string report_table(const XbarReport& r);
std::string report_json(const XbarReport& r);
std::string report_csv(const XbarReport& r);

}  // namespace stuckat::xbar
