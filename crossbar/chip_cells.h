// The stuck cells of a chip's physical tiles, drawn from the chip's seed (or read from a measured
// chip map) on first use and kept: the placement reads them tile by tile, the read-back cell by
// cell. Not thread-safe while tiles are being drawn; after prepare(n), the first n tiles are read
// only, from any number of threads.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "crossbar/chip_map.h"
#include "crossbar/chip_model.h"

namespace stuckat::xbar {

// A stuck cell group: the stuck cells of one weight slot (wordline, weight column) of a tile.
struct StuckSlot {
  int32_t wordline = 0, column = 0;  // column: weight column (cells column*k .. column*k + k - 1)
  uint16_t and_mask = 0xFFFF, or_mask = 0;
  int32_t cells = 0;  // stuck cells in the slot
};

class ChipCells {
 public:
  // Physical tiles of `rows` x `cols` cells, `bits` per cell.
  ChipCells(const ChipFaults& chip, int64_t rows, int64_t cols, int bits);
  // Tiles as measured (map->rows x map->cols cells); asking for a tile past map->tiles throws.
  ChipCells(std::shared_ptr<const ChipMap> map, int bits);

  // Draws tiles [0, n) at once (in parallel); afterwards their states and slots may be read
  // from several threads.
  void prepare(int64_t n);
  // Whether tiles [0, n) are ready for parallel readers (their stuck slots are known).
  bool prepared(int64_t n) const {
    for (int64_t t = 0; t < n; ++t)
      if (!slots_.count(t)) return false;
    return true;
  }
  // Physical tiles the chip has (-1: as many as asked for, drawn from the seed).
  int64_t tiles_available() const { return map_ ? map_->tiles : -1; }

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }  // cells per wordline
  int64_t weight_cols() const { return cols_ / k_; }
  int bits() const { return bits_; }
  int cells_per_weight() const { return k_; }

  // States of tile p (rows x cols).
  const std::vector<uint8_t>& states(int64_t tile);
  // The weight slots of tile p with at least one stuck cell, in (wordline, column) order.
  const std::vector<StuckSlot>& stuck_slots(int64_t tile);
  // The masks of slot (wordline, column) of tile p.
  void slot_masks(int64_t tile, int64_t wordline, int64_t column, uint16_t* and_mask, uint16_t* or_mask);

 private:
  std::vector<uint8_t> draw(int64_t tile) const;
  std::vector<StuckSlot> find_slots(const std::vector<uint8_t>& states) const;

  ChipFaults chip_;
  std::shared_ptr<const ChipMap> map_;
  int64_t rows_, cols_;
  int bits_, k_;
  std::map<int64_t, std::vector<uint8_t>> states_;
  std::map<int64_t, std::vector<StuckSlot>> slots_;
};

}  // namespace stuckat::xbar
