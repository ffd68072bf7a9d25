// Stuck cells per physical tile (crossbar/chip_cells.h).
#include "crossbar/chip_cells.h"

#include <algorithm>

#include "base/error.h"

namespace stuckat::xbar {

ChipCells::ChipCells(const ChipFaults& chip, int64_t rows, int64_t cols, int bits)
    : chip_(chip), rows_(rows), cols_(cols), bits_(bits), k_(16 / bits) {
  STUCKAT_CHECK(bits >= 1 && 16 % bits == 0 && cols >= k_ && rows >= 1, "chip tiles of {} x {} cells, {} bits per cell",
                rows, cols, bits);
}

ChipCells::ChipCells(std::shared_ptr<const ChipMap> map, int bits)
    : map_(std::move(map)), rows_(map_->rows), cols_(map_->cols), bits_(bits), k_(16 / bits) {
  STUCKAT_CHECK(bits >= 1 && 16 % bits == 0 && cols_ >= k_ && rows_ >= 1, "chip tiles of {} x {} cells, {} bits per cell",
                rows_, cols_, bits);
}

std::vector<uint8_t> ChipCells::draw(int64_t tile) const {
  if (!map_) return tile_cell_states(chip_, tile, rows_, cols_);
  if (tile >= map_->tiles)
    throw_input_error("--chip-map {}: the chip has {} tiles of {} x {} cells; this deployment needs more (tile {}: tiles used "
                      "plus spares)",
                      map_->path, map_->tiles, rows_, cols_, tile);
  const auto first = map_->states.begin() + tile * rows_ * cols_;
  return std::vector<uint8_t>(first, first + rows_ * cols_);
}

std::vector<StuckSlot> ChipCells::find_slots(const std::vector<uint8_t>& s) const {
  std::vector<StuckSlot> slots;
  const int64_t wc = weight_cols();
  for (int64_t r = 0; r < rows_; ++r)
    for (int64_t c = 0; c < wc; ++c) {
      const uint8_t* cells = s.data() + r * cols_ + c * k_;
      int stuck = 0;
      for (int m = 0; m < k_; ++m) stuck += cells[m] != kCellOk;
      if (stuck == 0) continue;
      StuckSlot slot;
      slot.wordline = static_cast<int32_t>(r);
      slot.column = static_cast<int32_t>(c);
      slot.cells = stuck;
      sliced_word_masks(cells, bits_, &slot.and_mask, &slot.or_mask);
      slots.push_back(slot);
    }
  return slots;
}

void ChipCells::prepare(int64_t n) {
  if (map_ && n > map_->tiles) draw(n - 1);  // throws the sentence
  // Tiles drawn before (the read-back draws states only) keep their states; what is missing of
  // each tile is computed in parallel, then inserted by this thread alone.
  std::vector<int64_t> todo;
  for (int64_t t = 0; t < n; ++t)
    if (!slots_.count(t)) todo.push_back(t);
  std::vector<std::vector<uint8_t>> states(todo.size());
  std::vector<std::vector<StuckSlot>> slots(todo.size());
#pragma omp parallel for schedule(dynamic, 4)
  for (size_t i = 0; i < todo.size(); ++i) {
    const auto known = states_.find(todo[i]);
    if (known == states_.end()) states[i] = draw(todo[i]);
    slots[i] = find_slots(known == states_.end() ? states[i] : known->second);
  }
  for (size_t i = 0; i < todo.size(); ++i) {
    if (!states_.count(todo[i])) states_.emplace(todo[i], std::move(states[i]));
    slots_.emplace(todo[i], std::move(slots[i]));
  }
}

const std::vector<uint8_t>& ChipCells::states(int64_t tile) {
  auto it = states_.find(tile);
  if (it == states_.end()) it = states_.emplace(tile, draw(tile)).first;
  return it->second;
}

const std::vector<StuckSlot>& ChipCells::stuck_slots(int64_t tile) {
  auto it = slots_.find(tile);
  if (it != slots_.end()) return it->second;
  return slots_.emplace(tile, find_slots(states(tile))).first->second;
}

void ChipCells::slot_masks(int64_t tile, int64_t wordline, int64_t column, uint16_t* and_mask, uint16_t* or_mask) {
  const std::vector<uint8_t>& s = states(tile);
  sliced_word_masks(s.data() + wordline * cols_ + column * k_, bits_, and_mask, or_mask);
}

}  // namespace stuckat::xbar
