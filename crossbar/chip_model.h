// A faulty ReRAM chip as `stuckat deploy` sees it: physical tiles of R x C cells, each cell
// holding b bits of a weight's 16-bit word (bit slicing), some cells stuck.
//
// Bit slicing: with b bits per cell (--cell-bits, b in {1, 2, 4, 8, 16}) a weight takes k = 16 / b
// cells side by side on one wordline; cell m of a weight holds bits m*b .. m*b + b - 1 of its
// word (cell 0 the least significant). A tile of R x C cells therefore holds R rows x floor(C / k)
// weight columns; b = 16 is one cell per weight (the plain tile counts of `stuckat xbar`).
//
// Stuck cells: a cell stuck at its lowest conductance (high-resistance state, HRS, "stuck-off")
// reads all b bits 0: stuckat calls it SA0; a cell stuck at its highest conductance (low-resistance
// state, LRS, "stuck-on") reads all b bits 1: SA1. (Papers use the names both ways; these are
// ours.) Each physical cell is drawn on its own by the counter-based RNG from the chip seed, so a
// chip is the same whatever is mapped onto it. With b = 1 a stuck cell is exactly a stuck bit.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stuckat::xbar {

struct ChipFaults {
  double sa0 = 0, sa1 = 0;  // fractions of cells stuck at HRS (SA0) and at LRS (SA1)
  uint64_t seed = 0;
};

// --chip text: "rate=R,sa=A:B,seed=S" (a fraction R of cells, SA0:SA1 = A:B; sa defaults to 1:1)
// or the rates by state, "hrs=P,lrs=Q,seed=S" (also spelled sa0=, sa1=). Throws InputError naming
// `flag` for anything else, rates outside [0, 1] or summing past 1.
ChipFaults parse_chip_faults(const std::string& text, const std::string& flag);
std::string chip_faults_text(const ChipFaults& c);  // "sa0=0.0016,sa1=0.0084,seed=3"

enum CellState : uint8_t { kCellOk = 0, kCellSa0 = 1, kCellSa1 = 2 };

// The state of cell (wordline, column) of physical tile `tile` on a chip whose tiles have `cols`
// cells per wordline.
CellState cell_state(const ChipFaults& chip, int64_t tile, int64_t wordline, int64_t column, int64_t cols);

// The states of a whole physical tile (rows x cols, row-major).
std::vector<uint8_t> tile_cell_states(const ChipFaults& chip, int64_t tile, int64_t rows, int64_t cols);

// --cell-bits: 1, 2, 4, 8 or 16; throws InputError naming `flag` otherwise.
int parse_cell_bits(const std::string& text, const std::string& flag);

// The word masks of a weight whose k = 16 / bits cells are in `cells` (cell 0 first): a stuck
// cell forces its b bits to 0 (and) or 1 (or); read word = (word & and) | or.
void sliced_word_masks(const uint8_t* cells, int bits, uint16_t* and_mask, uint16_t* or_mask);

}  // namespace stuckat::xbar
