// TileShape: the crossbar size, rows (wordlines) x cols (bitlines); S x S by default.
#pragma once
#include <cstdint>
#include <string>

namespace stuckat::xbar {

struct TileShape {
  int64_t rows = 128, cols = 128;
};

// "128" -> 128 x 128; "RxC" (e.g. "256x64") -> R x C. Throws InputError naming `flag` when the
// text is not a positive size.
TileShape parse_tile_shape(const std::string& text, const std::string& flag);

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace stuckat::xbar
