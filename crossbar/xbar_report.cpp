// Text table, JSON and CSV of the crossbar report (see xbar_report.h).
#include "crossbar/xbar_report.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace stuckat::xbar {

LayerReport XbarReport::total() const {
  LayerReport t;
  t.name = "total";
  for (const LayerReport& l : layers) {
    t.counts += l.counts;
    t.cells += l.cells;
    t.bound.cells += l.bound.best();  // per-layer bounds add up (tiles never span layers)
    t.bound.rows += l.bound.rows;
    t.bound.cols += l.bound.cols;
    if (t.strategies.empty())
      for (const StrategyRun& s : l.strategies) t.strategies.push_back({s.name, 0, 0.0, true});
    for (size_t i = 0; i < l.strategies.size(); ++i) {
      t.strategies[i].tiles_used += l.strategies[i].tiles_used;
      t.strategies[i].seconds += l.strategies[i].seconds;
      t.strategies[i].verified = t.strategies[i].verified && l.strategies[i].verified;
    }
  }
  t.rows = t.cols = 0;
  return t;
}

namespace {

int64_t bound_of(const LayerReport& l, bool is_total) { return is_total ? l.bound.cells : l.bound.best(); }

nlohmann::json layer_json(const LayerReport& l, TileShape shape, bool is_total) {
  const TileCounts& n = l.counts;
  nlohmann::json j;
  if (!is_total) {
    j["name"] = l.name;
    j["shape"] = l.shape;
    j["rows"] = l.rows;
    j["cols"] = l.cols;
    j["density"] = l.density();
  }
  j["nnz"] = n.nnz;
  j["tiles"] = n.tiles;
  j["nonzero_tiles"] = n.nonzero_tiles;
  j["nonzero_col_segments"] = n.nonzero_col_segments;
  j["col_segments"] = n.col_segments;
  j["nonzero_row_segments"] = n.nonzero_row_segments;
  j["row_segments"] = n.row_segments;
  j["tiles_saved"] = n.saved();
  j["saved_fraction"] = n.tiles > 0 ? double(n.saved()) / double(n.tiles) : 0.0;
  if (!is_total) {
    const TileTheory th = tile_theory(n, l.density(), shape);
    j["theory"] = {{"zero_col_segment", {{"predicted", th.predicted_zero_col_segment}, {"measured", th.measured_zero_col_segment}}},
                   {"zero_row_segment", {{"predicted", th.predicted_zero_row_segment}, {"measured", th.measured_zero_row_segment}}},
                   {"zero_tile", {{"predicted", th.predicted_zero_tile}, {"measured", th.measured_zero_tile}}}};
    j["lower_bound"] = {{"tiles", l.bound.best()}, {"cells", l.bound.cells}, {"rows", l.bound.rows}, {"cols", l.bound.cols}};
  } else {
    j["lower_bound"] = {{"tiles", l.bound.cells}};
  }
  nlohmann::json s = nlohmann::json::object();
  for (const StrategyRun& r : l.strategies)
    s[r.name] = {{"tiles_used", r.tiles_used},
                 {"seconds", r.seconds},
                 {"tiles_saved", n.tiles - r.tiles_used},
                 {"saved_fraction", n.tiles > 0 ? double(n.tiles - r.tiles_used) / double(n.tiles) : 0.0},
                 {"gap_to_lower_bound", r.tiles_used - bound_of(l, is_total)},
                 {"verified", r.verified}};
  j["strategies"] = s;
  return j;
}

}  // namespace

std::string report_json(const XbarReport& r) {
  nlohmann::json j;
  j["size"] = r.shape.rows == r.shape.cols ? nlohmann::json(r.shape.rows) : nlohmann::json(fmt::format("{}x{}", r.shape.rows, r.shape.cols));
  j["tile_rows"] = r.shape.rows;
  j["tile_cols"] = r.shape.cols;
  j["convention"] = kConvention;
  j["source"] = r.source;
  j["lower_bound"] = "max(ceil(nnz/(R*C)), ceil(sum_r ceil(k_r/C)/R), ceil(sum_c ceil(k_c/R)/C)) per layer";
  j["layers"] = nlohmann::json::array();
  for (const LayerReport& l : r.layers) j["layers"].push_back(layer_json(l, r.shape, false));
  j["total"] = layer_json(r.total(), r.shape, true);
  return j.dump(2) + "\n";
}

std::string report_csv(const XbarReport& r) {
  std::string out = "layer,shape,rows,cols,nnz,density,tiles,nonzero_tiles,nonzero_col_segments,col_segments,"
                    "nonzero_row_segments,row_segments,tiles_saved,saved_fraction,lower_bound";
  const LayerReport total = r.total();
  for (const StrategyRun& s : total.strategies) out += fmt::format(",{0}_tiles,{0}_saved,{0}_seconds", s.name);
  out += "\n";
  auto row = [&](const LayerReport& l, bool is_total) {
    const TileCounts& n = l.counts;
    out += fmt::format("{},\"{}\",{},{},{},{:.6g},{},{},{},{},{},{},{},{:.6g},{}", l.name, l.shape, l.rows, l.cols, n.nnz,
                       l.density(), n.tiles, n.nonzero_tiles, n.nonzero_col_segments, n.col_segments,
                       n.nonzero_row_segments, n.row_segments, n.saved(),
                       n.tiles > 0 ? double(n.saved()) / double(n.tiles) : 0.0, bound_of(l, is_total));
    for (const StrategyRun& s : l.strategies) out += fmt::format(",{},{},{:.6f}", s.tiles_used, n.tiles - s.tiles_used, s.seconds);
    out += "\n";
  };
  for (const LayerReport& l : r.layers) row(l, false);
  row(total, true);
  return out;
}

std::string report_table(const XbarReport& r) {
  std::string out = fmt::format("crossbar tiles {} x {}; {}\nsource: {}\n", r.shape.rows, r.shape.cols, kConvention, r.source);
  const LayerReport total = r.total();
  out += fmt::format("{:<16} {:>16} {:>12} {:>8} {:>7} {:>7} {:>21} {:>23} {:>6}", "layer", "shape", "matrix", "density",
                     "tiles", "nz", "col segments nz/all", "row segments nz/all", "bound");
  for (const StrategyRun& s : total.strategies) out += fmt::format(" {:>15}", s.name + " used/saved");
  out += "\n";
  auto line = [&](const LayerReport& l, bool is_total) {
    const TileCounts& n = l.counts;
    out += fmt::format("{:<16} {:>16} {:>12} {:>7.3f}% {:>7} {:>7} {:>21} {:>23} {:>6}", l.name.substr(0, 16),
                       l.shape.substr(0, 16), is_total ? std::string() : fmt::format("{}x{}", l.rows, l.cols),
                       100.0 * l.density(), n.tiles, n.nonzero_tiles,
                       fmt::format("{}/{}", n.nonzero_col_segments, n.col_segments),
                       fmt::format("{}/{}", n.nonzero_row_segments, n.row_segments), bound_of(l, is_total));
    for (const StrategyRun& s : l.strategies)
      out += fmt::format(" {:>15}", fmt::format("{}/{}", s.tiles_used, n.tiles - s.tiles_used));
    out += "\n";
  };
  for (const LayerReport& l : r.layers) line(l, false);
  line(total, true);
  out += fmt::format("{:<16} tiles saved vs the {} in place:", "", total.counts.tiles);
  for (const StrategyRun& s : total.strategies)
    out += fmt::format(" {} {} ({:.1f}%, {:.3f} s)", s.name, total.counts.tiles - s.tiles_used,
                       total.counts.tiles ? 100.0 * double(total.counts.tiles - s.tiles_used) / double(total.counts.tiles) : 0.0,
                       s.seconds);
  out += "\n(strategy columns: tiles used / tiles saved vs all tiles in place; nz = nonzero tiles in place; bound = lower "
         "bound on tiles, see --help)\n";
  // Theory beside the measurement: independent zeros at the layer's density d.
  out += fmt::format("\n{:<16} {:>8} {:>30} {:>30} {:>30}\n", "theory", "density",
                     fmt::format("P(zero col segment)=(1-d)^{}", r.shape.rows), fmt::format("P(zero row segment)=(1-d)^{}", r.shape.cols),
                     fmt::format("P(zero tile)=(1-d)^{}", r.shape.rows * r.shape.cols));
  for (const LayerReport& l : r.layers) {
    const TileTheory th = tile_theory(l.counts, l.density(), r.shape);
    out += fmt::format("{:<16} {:>7.3f}% {:>30} {:>30} {:>30}\n", l.name.substr(0, 16), 100.0 * l.density(),
                       fmt::format("{:.4f} predicted {:.4f} measured", th.predicted_zero_col_segment, th.measured_zero_col_segment),
                       fmt::format("{:.4f} predicted {:.4f} measured", th.predicted_zero_row_segment, th.measured_zero_row_segment),
                       fmt::format("{:.4f} predicted {:.4f} measured", th.predicted_zero_tile, th.measured_zero_tile));
  }
  return out;
}

}  // namespace stuckat::xbar
