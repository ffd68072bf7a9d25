// Per-layer density of a (pruned) model: the table `stuckat prune` prints and the JSON it
// writes with --json:
//   {"layers": [{"name", "shape", "total", "nonzero", "kept", "density"}...],
//    "total": {"total", "nonzero", "kept", "density"}}
// nonzero counts the weights that are not exactly 0 (what a crossbar has to store); kept counts
// the mask's survivors (a survivor may be 0, e.g. an SSL group); density = nonzero / total.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/nn/module.h"
#include "pruning/prune_mask.h"

namespace stuckat {

struct LayerDensity {
  std::string name;
  Shape shape;
  int64_t total = 0, nonzero = 0, kept = 0;
  double density() const { return total > 0 ? static_cast<double>(nonzero) / static_cast<double>(total) : 0.0; }
};

// One row per prunable layer (masks: as many as the model has, or empty = all kept).
std::vector<LayerDensity> density_report(const Module& model, const PruneMasks& masks);

nlohmann::json density_json(const std::vector<LayerDensity>& rows);
// A fixed-width text table with a total row.
std::string density_table(const std::vector<LayerDensity>& rows);

}  // namespace stuckat
