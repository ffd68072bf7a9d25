// The stuck cells of a chip's physical tiles, drawn on first use and kept: the placement reads
// them tile by tile, the read-back cell by cell.
#pragma once
#include <cstdint>
#include <map>
#include <vector>

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
  ChipFaults chip_;
  int64_t rows_, cols_;
  int bits_, k_;
  std::map<int64_t, std::vector<uint8_t>> states_;
  std::map<int64_t, std::vector<StuckSlot>> slots_;
};

}  // namespace stuckat::xbar
