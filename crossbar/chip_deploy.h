// One layer deployed on a faulty chip: which weight each cell of each logical tile holds, where
// the logical tiles sit on the chip (placement), and the weights as the chip reads them back.
//
// A layer is a matrix (rows = inputs, cols = outputs, layer_matrix.h) whose weight (r, c) is the
// layer's element c * rows + r. A strategy's layout (tile_layout.h, computed for tiles of R rows x
// floor(C / k) weight columns) gives each logical tile its wordlines (matrix rows) and weight
// columns (matrix columns). Cell (i, j) of tile t is programmed with the word of weight
// (rows[i], cols[j]) when t holds that weight: every nonzero is held by the tile the strategy put
// it in, a zero (pruned) weight by the first tile that spans it. Where a tile spans a weight held
// by another tile, its cell is programmed 0 and adds what it reads (nonzero only under an SA1
// cell) to that weight's column sum: a "shadow" cell. Weights no tile spans are not on the chip
// and read 0 (they are 0).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "base/weight_format.h"
#include "crossbar/chip_cells.h"
#include "crossbar/sparse_matrix.h"
#include "crossbar/tile_layout.h"
#include "faults/fault_map.h"

namespace stuckat::xbar {

struct LayerTiles {
  std::string name;
  int64_t matrix_rows = 0, matrix_cols = 0;  // weight (r, c) is element c * matrix_rows + r
  WeightFormat format;                       // resolved for the layer
  std::vector<uint16_t> words;               // intended word of every weight of the layer
  TileLayout layout;
  // Per tile, its cells (i, j) in row-major order over its wordlines x weight columns: the weight
  // element and whether this tile holds it.
  std::vector<int64_t> cell_ptr;  // (tiles + 1)
  std::vector<int64_t> cell_weight;
  std::vector<uint8_t> cell_holds;
  // Per weight element, the weight of its squared error in the placement's damage (e.g. its
  // squared gradient, framework/train/sensitivity.h); empty: every weight counts 1.
  std::vector<float> importance;

  int64_t tiles() const { return layout.tiles(); }
  int64_t tile_rows(int64_t t) const { return layout.row_ptr[size_t(t) + 1] - layout.row_ptr[size_t(t)]; }
  int64_t tile_cols(int64_t t) const { return layout.col_ptr[size_t(t) + 1] - layout.col_ptr[size_t(t)]; }
  // The word programmed into cell (i, j) of tile t.
  uint16_t programmed(int64_t t, int64_t i, int64_t j) const {
    const size_t c = size_t(cell_ptr[size_t(t)] + i * tile_cols(t) + j);
    return cell_holds[c] ? words[size_t(cell_weight[c])] : uint16_t(0);
  }
  // The importance of the weight cell (i, j) of tile t holds or shadows (1 without importance).
  double importance_of(int64_t t, int64_t i, int64_t j) const {
    if (importance.empty()) return 1.0;
    return double(importance[size_t(cell_weight[size_t(cell_ptr[size_t(t)] + i * tile_cols(t) + j)])]);
  }
};

// `w`: the layer's f32 weights (matrix_rows * matrix_cols, layer_matrix order), `a` its matrix,
// `layout` a strategy's layout of `a`, `format` the --quant format (resolved here per layer).
LayerTiles make_layer_tiles(const std::string& name, const float* w, const SparseMatrix& a, TileLayout layout,
                            const WeightFormat& format);

// Where a logical tile sits: its physical tile, and the physical wordline of each of its
// wordlines and the physical weight column of each of its weight columns.
struct TilePlacement {
  int64_t physical = 0;
  std::vector<int32_t> row_pos, col_pos;
};

struct DeployCounts {
  int64_t cells_used = 0;                  // cells programmed (under a weight or a shadow)
  int64_t stuck_cells_under_weights = 0;   // stuck ones among them
  int64_t weights_on_chip = 0;             // weights held by a tile
  int64_t weights_touched = 0;             // held weights with at least one stuck cell
  int64_t weights_changed = 0;             // held weights whose word reads back different
  int64_t zero_to_nonzero = 0;             // zero weights that read back nonzero
  int64_t shadow_cells_nonzero = 0;        // shadow cells that read nonzero
  double squared_error = 0;                // sum over weights of (read - intended value)^2
  double weighted_error = 0;               // the same, each term times its weight's importance
};

struct LayerReadBack {
  std::vector<float> weights;  // as the chip reads them: decoded words plus shadow cells' values
  FaultMap masks;              // per weight, its holding cells' stuck bits (no entry: all-pass)
  DeployCounts counts;
};

// The reference read-back: every held weight decoded through its k cells, cell by cell.
LayerReadBack read_back_layer(const LayerTiles& layer, const std::vector<TilePlacement>& placement, ChipCells& chip);

// Squared error, in weight units, of reading `word` through masks (and, or). The placement's
// damage of a cell is this times the importance of its weight (1 without importance).
double word_error(uint16_t word, uint16_t and_mask, uint16_t or_mask, const WeightFormat& f);

}  // namespace stuckat::xbar
