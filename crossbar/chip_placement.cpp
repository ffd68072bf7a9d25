// Naive and fault-aware placement (crossbar/chip_placement.h).
#include "crossbar/chip_placement.h"

#include <algorithm>
#include <numeric>

#include "base/error.h"
#include "crossbar/linear_assignment.h"

namespace stuckat::xbar {

const std::vector<std::string>& placement_names() {
  static const std::vector<std::string> names{"naive", "fault-aware"};
  return names;
}

const char* placement_name(Placement p) { return p == Placement::Naive ? "naive" : "fault-aware"; }

std::vector<Placement> parse_placement_list(const std::string& text, const std::string& flag) {
  std::vector<Placement> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string name = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? text.size() + 1 : comma + 1;
    Placement p;
    if (name == "naive") {
      p = Placement::Naive;
    } else if (name == "fault-aware") {
      p = Placement::FaultAware;
    } else {
      throw_input_error("{}: unknown placement '{}'; expected naive, fault-aware or both (naive,fault-aware)", flag, name);
    }
    if (std::find(out.begin(), out.end(), p) != out.end()) throw_input_error("{} lists {} twice", flag, name);
    out.push_back(p);
  }
  return out;
}

std::vector<TilePlacement> naive_placement(const LayerTiles& layer, int64_t first_physical) {
  std::vector<TilePlacement> out(size_t(layer.tiles()));
  for (int64_t t = 0; t < layer.tiles(); ++t) {
    TilePlacement& p = out[size_t(t)];
    p.physical = first_physical + t;
    p.row_pos.resize(size_t(layer.tile_rows(t)));
    p.col_pos.resize(size_t(layer.tile_cols(t)));
    std::iota(p.row_pos.begin(), p.row_pos.end(), 0);
    std::iota(p.col_pos.begin(), p.col_pos.end(), 0);
  }
  return out;
}

namespace {

// Which logical index sits at each physical position (-1: empty).
std::vector<int32_t> inverse(const std::vector<int32_t>& pos, int64_t physical) {
  std::vector<int32_t> inv(size_t(physical), -1);
  for (size_t i = 0; i < pos.size(); ++i) inv[size_t(pos[i])] = static_cast<int32_t>(i);
  return inv;
}

}  // namespace

double tile_damage(const LayerTiles& L, int64_t t, const TilePlacement& p, ChipCells& chip) {
  const std::vector<int32_t> row_at = inverse(p.row_pos, chip.rows()), col_at = inverse(p.col_pos, chip.weight_cols());
  double damage = 0;
  for (const StuckSlot& s : chip.stuck_slots(p.physical)) {
    const int32_t i = row_at[size_t(s.wordline)], j = col_at[size_t(s.column)];
    if (i >= 0 && j >= 0) damage += word_error(L.programmed(t, i, j), s.and_mask, s.or_mask, L.format) * L.importance_of(t, i, j);
  }
  return damage;
}

double optimise_tile_orders(const LayerTiles& L, int64_t t, TilePlacement& p, ChipCells& chip) {
  const std::vector<StuckSlot>& slots = chip.stuck_slots(p.physical);
  if (slots.empty()) return 0.0;
  const int64_t rt = L.tile_rows(t), ct = L.tile_cols(t), R = chip.rows(), C = chip.weight_cols();
  std::vector<double> cost;
  for (int pass = 0; pass < 3; ++pass) {
    const bool rows = pass != 1;
    if (rows) {
      // cost[i][r]: logical wordline i on physical wordline r, the columns where they are.
      const std::vector<int32_t> col_at = inverse(p.col_pos, C);
      cost.assign(size_t(rt * R), 0.0);
      for (const StuckSlot& s : slots) {
        const int32_t j = col_at[size_t(s.column)];
        if (j < 0) continue;
        for (int64_t i = 0; i < rt; ++i)
          cost[size_t(i * R + s.wordline)] +=
              word_error(L.programmed(t, i, j), s.and_mask, s.or_mask, L.format) * L.importance_of(t, i, j);
      }
      p.row_pos = solve_linear_assignment(cost, rt, R);
    } else {
      const std::vector<int32_t> row_at = inverse(p.row_pos, R);
      cost.assign(size_t(ct * C), 0.0);
      for (const StuckSlot& s : slots) {
        const int32_t i = row_at[size_t(s.wordline)];
        if (i < 0) continue;
        for (int64_t j = 0; j < ct; ++j)
          cost[size_t(j * C + s.column)] +=
              word_error(L.programmed(t, i, j), s.and_mask, s.or_mask, L.format) * L.importance_of(t, i, j);
      }
      std::vector<int32_t> cols = solve_linear_assignment(cost, ct, C);
      if (cols == p.col_pos) break;  // the rows are already the best for these columns
      p.col_pos = std::move(cols);
    }
  }
  return tile_damage(L, t, p, chip);
}

}  // namespace stuckat::xbar
