// Counting nonzero and kept weights per layer, and printing them.
#include "pruning/density_report.h"

#include <fmt/format.h>

namespace stuckat {

std::vector<LayerDensity> density_report(const Module& model, const PruneMasks& masks) {
  std::vector<LayerDensity> rows;
  for (const PrunableLayer& l : prunable_layers(model)) {
    LayerDensity row;
    row.name = l.name;
    row.shape = l.weight.shape();
    const Tensor c = l.weight.to(Device::CPU).contiguous();
    row.total = c.numel();
    const float* w = c.data<float>();
    for (int64_t i = 0; i < row.total; ++i) row.nonzero += w[i] != 0.0f ? 1 : 0;
    const LayerMask* m = find_mask(masks, l.name);
    row.kept = m != nullptr ? m->kept() : row.total;
    rows.push_back(row);
  }
  return rows;
}

nlohmann::json density_json(const std::vector<LayerDensity>& rows) {
  nlohmann::json layers = nlohmann::json::array();
  LayerDensity sum;
  for (const LayerDensity& r : rows) {
    layers.push_back({{"name", r.name},
                      {"shape", r.shape},
                      {"total", r.total},
                      {"nonzero", r.nonzero},
                      {"kept", r.kept},
                      {"density", r.density()}});
    sum.total += r.total;
    sum.nonzero += r.nonzero;
    sum.kept += r.kept;
  }
  return {{"layers", layers},
          {"total", {{"total", sum.total}, {"nonzero", sum.nonzero}, {"kept", sum.kept}, {"density", sum.density()}}}};
}

std::string density_table(const std::vector<LayerDensity>& rows) {
  std::string out = fmt::format("{:<16} {:>16} {:>10} {:>10} {:>10} {:>9}\n", "layer", "shape", "total", "nonzero",
                                "kept", "density");
  LayerDensity sum;
  sum.name = "total";
  for (const LayerDensity& r : rows) {
    out += fmt::format("{:<16} {:>16} {:>10} {:>10} {:>10} {:>8.4f}%\n", r.name, fmt::format("{}", fmt::join(r.shape, "x")),
                       r.total, r.nonzero, r.kept, 100.0 * r.density());
    sum.total += r.total;
    sum.nonzero += r.nonzero;
    sum.kept += r.kept;
  }
  out += fmt::format("{:<16} {:>16} {:>10} {:>10} {:>10} {:>8.4f}%\n", sum.name, "", sum.total, sum.nonzero, sum.kept,
                     100.0 * sum.density());
  return out;
}

}  // namespace stuckat
