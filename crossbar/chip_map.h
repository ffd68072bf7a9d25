// A chip's measured cell states (`deploy --chip-map F.safetensors`): instead of drawing stuck
// cells from a rate and a seed, read them from a file measured on a real chip (or written by
// another simulator).
//
// The file is safetensors with one tensor, "cell_states", dtype U8, shape [tiles, R, C]: physical
// tile p, wordline r, cell c (c = column * k + m for cell m of weight column `column`, cell 0 the
// least significant bits); 0 = working cell, 1 = stuck at the high-resistance state (HRS, SA0,
// reads 0), 2 = stuck at the low-resistance state (LRS, SA1, reads all bits 1). Optional
// metadata is kept but not needed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stuckat::xbar {

struct ChipMap {
  std::string path;
  int64_t tiles = 0, rows = 0, cols = 0;
  std::vector<uint8_t> states;  // tiles x rows x cols
};

// Throws InputError naming `flag` and the file when it cannot be read, lacks "cell_states", has
// another dtype or rank, or holds a state other than 0, 1, 2.
ChipMap read_chip_map(const std::string& path, const std::string& flag);

// Writes `map` (atomically) in the format above.
void write_chip_map(const std::string& path, const ChipMap& map);

}  // namespace stuckat::xbar
