// Layers on a faulty chip: programmed cells and the reference read-back (crossbar/chip_deploy.h).
#include "crossbar/chip_deploy.h"

#include "base/error.h"
#include "base/word_codec.h"
#include "faults/weight_codec.h"

namespace stuckat::xbar {

LayerTiles make_layer_tiles(const std::string& name, const float* w, const SparseMatrix& a, TileLayout layout,
                            const WeightFormat& format) {
  LayerTiles L;
  L.name = name;
  L.matrix_rows = a.rows;
  L.matrix_cols = a.cols;
  const int64_t n = a.rows * a.cols;
  L.format = resolve_layer_format(format, w, n);
  L.words.resize(size_t(n));
  encode_weights(w, L.words.data(), n, L.format);
  L.layout = std::move(layout);
  const TileLayout& lay = L.layout;
  // Holders: each nonzero's tile first, then zeros by the first tile that spans them.
  std::vector<int32_t> holder(size_t(n), -1);
  for (int64_t r = 0; r < a.rows; ++r)
    for (int64_t k = a.row_ptr[size_t(r)]; k < a.row_ptr[size_t(r) + 1]; ++k)
      holder[size_t(int64_t(a.col_idx[size_t(k)]) * a.rows + r)] = lay.cell_tile[size_t(k)];
  L.cell_ptr.assign(size_t(lay.tiles()) + 1, 0);
  for (int64_t t = 0; t < lay.tiles(); ++t) L.cell_ptr[size_t(t) + 1] = L.cell_ptr[size_t(t)] + L.tile_rows(t) * L.tile_cols(t);
  L.cell_weight.resize(size_t(L.cell_ptr.back()));
  L.cell_holds.resize(size_t(L.cell_ptr.back()));
  for (int64_t t = 0; t < lay.tiles(); ++t) {
    const int64_t rt = L.tile_rows(t), ct = L.tile_cols(t);
    for (int64_t i = 0; i < rt; ++i) {
      const int64_t r = lay.rows[size_t(lay.row_ptr[size_t(t)] + i)];
      for (int64_t j = 0; j < ct; ++j) {
        const int64_t c = lay.cols[size_t(lay.col_ptr[size_t(t)] + j)];
        const int64_t e = c * a.rows + r;
        if (holder[size_t(e)] < 0) holder[size_t(e)] = static_cast<int32_t>(t);
        const size_t cell = size_t(L.cell_ptr[size_t(t)] + i * ct + j);
        L.cell_weight[cell] = e;
        L.cell_holds[cell] = holder[size_t(e)] == t;
      }
    }
  }
  return L;
}

double word_error(uint16_t word, uint16_t and_mask, uint16_t or_mask, const WeightFormat& f) {
  const uint16_t read = static_cast<uint16_t>((word & and_mask) | or_mask);
  if (read == word) return 0.0;
  const double d = double(decode_word(read, f.kind, f.step())) - double(decode_word(word, f.kind, f.step()));
  return d * d;
}

LayerReadBack read_back_layer(const LayerTiles& L, const std::vector<TilePlacement>& placement, ChipCells& chip) {
  STUCKAT_CHECK(static_cast<int64_t>(placement.size()) == L.tiles(), "{}: {} placements for {} tiles", L.name,
                placement.size(), L.tiles());
  const int64_t n = L.matrix_rows * L.matrix_cols;
  const int k = chip.cells_per_weight();
  LayerReadBack out;
  out.weights.assign(size_t(n), 0.0f);
  out.masks = FaultMap(n);
  const WeightFormat& f = L.format;
  for (int64_t t = 0; t < L.tiles(); ++t) {
    const TilePlacement& p = placement[size_t(t)];
    const int64_t rt = L.tile_rows(t), ct = L.tile_cols(t);
    STUCKAT_CHECK(static_cast<int64_t>(p.row_pos.size()) == rt && static_cast<int64_t>(p.col_pos.size()) == ct,
                  "{}: tile {} placed with {} x {} positions for {} x {} cells", L.name, t, p.row_pos.size(), p.col_pos.size(),
                  rt, ct);
    const std::vector<uint8_t>& states = chip.states(p.physical);
    for (int64_t i = 0; i < rt; ++i)
      for (int64_t j = 0; j < ct; ++j) {
        const size_t cell = size_t(L.cell_ptr[size_t(t)] + i * ct + j);
        const int64_t e = L.cell_weight[cell];
        STUCKAT_CHECK(p.row_pos[size_t(i)] >= 0 && p.row_pos[size_t(i)] < chip.rows() && p.col_pos[size_t(j)] >= 0 &&
                          p.col_pos[size_t(j)] < chip.weight_cols(),
                      "{}: tile {} cell ({}, {}) placed outside the physical tile", L.name, t, i, j);
        const uint8_t* cells = states.data() + int64_t(p.row_pos[size_t(i)]) * chip.cols() + int64_t(p.col_pos[size_t(j)]) * k;
        int stuck = 0;
        for (int m = 0; m < k; ++m) stuck += cells[m] != kCellOk;
        uint16_t a = 0xFFFF, o = 0;
        sliced_word_masks(cells, chip.bits(), &a, &o);
        out.counts.cells_used += k;
        out.counts.stuck_cells_under_weights += stuck;
        if (L.cell_holds[cell]) {
          const uint16_t word = L.words[size_t(e)];
          const uint16_t read = static_cast<uint16_t>((word & a) | o);
          const float value = decode_word(read, f.kind, f.step());
          out.weights[size_t(e)] += value;
          out.masks.and_mask[size_t(e)] = a;
          out.masks.or_mask[size_t(e)] = o;
          ++out.counts.weights_on_chip;
          if (stuck > 0) ++out.counts.weights_touched;
          if (read != word) ++out.counts.weights_changed;
          if (word == 0 && value != 0.0f) ++out.counts.zero_to_nonzero;
          const double err = word_error(word, a, o, f);
          out.counts.squared_error += err;
          out.counts.weighted_error += err * (L.importance.empty() ? 1.0 : double(L.importance[size_t(e)]));
        } else if (o != 0) {  // a shadow cell under SA1: its value joins the column sum
          const float value = decode_word(o, f.kind, f.step());
          out.weights[size_t(e)] += value;
          ++out.counts.shadow_cells_nonzero;
          out.counts.squared_error += double(value) * double(value);
          out.counts.weighted_error +=
              double(value) * double(value) * (L.importance.empty() ? 1.0 : double(L.importance[size_t(e)]));
        }
      }
  }
  return out;
}

}  // namespace stuckat::xbar
