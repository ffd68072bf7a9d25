// Stuck cells per physical tile (crossbar/chip_cells.h).
#include "crossbar/chip_cells.h"

#include "base/error.h"

namespace stuckat::xbar {

ChipCells::ChipCells(const ChipFaults& chip, int64_t rows, int64_t cols, int bits)
    : chip_(chip), rows_(rows), cols_(cols), bits_(bits), k_(16 / bits) {
  STUCKAT_CHECK(bits >= 1 && 16 % bits == 0 && cols >= k_ && rows >= 1, "chip tiles of {} x {} cells, {} bits per cell",
                rows, cols, bits);
}

const std::vector<uint8_t>& ChipCells::states(int64_t tile) {
  auto it = states_.find(tile);
  if (it == states_.end()) it = states_.emplace(tile, tile_cell_states(chip_, tile, rows_, cols_)).first;
  return it->second;
}

const std::vector<StuckSlot>& ChipCells::stuck_slots(int64_t tile) {
  auto it = slots_.find(tile);
  if (it != slots_.end()) return it->second;
  const std::vector<uint8_t>& s = states(tile);
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
  return slots_.emplace(tile, std::move(slots)).first->second;
}

void ChipCells::slot_masks(int64_t tile, int64_t wordline, int64_t column, uint16_t* and_mask, uint16_t* or_mask) {
  const std::vector<uint8_t>& s = states(tile);
  sliced_word_masks(s.data() + wordline * cols_ + column * k_, bits_, and_mask, or_mask);
}

}  // namespace stuckat::xbar
