// Placement of a layer's logical tiles onto a chip's physical tiles (crossbar/chip_deploy.h):
//   naive        logical tile t on the next free physical tile, wordlines and weight columns in
//                their layout order;
//   fault-aware  the same physical tiles, then per tile the wordline order and the weight-column
//                order that minimise the squared error the stuck cells cause (each an exact
//                linear assignment given the other, alternated: rows, columns, rows; a tile with
//                fewer wordlines or columns than the physical tile also chooses which physical
//                ones to leave empty), then spare tiles: the tiles that lose most move to a free
//                spare where, placed the same way, they lose less.
// The error of a weight is (value read - value intended)^2 in weight units; a cell programmed 0
// costs only under an SA1 cell.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "crossbar/chip_cells.h"
#include "crossbar/chip_deploy.h"

namespace stuckat::xbar {

enum class Placement { Naive, FaultAware };
const std::vector<std::string>& placement_names();  // "naive", "fault-aware"
// Comma-separated names; throws InputError naming `flag` for an unknown or repeated one.
std::vector<Placement> parse_placement_list(const std::string& text, const std::string& flag);
const char* placement_name(Placement p);

// Physical tiles [first, first + tiles) for the layer, in order, identity orders.
std::vector<TilePlacement> naive_placement(const LayerTiles& layer, int64_t first_physical);

// The damage of tile t placed as `p`: its weights' squared errors, times their importance if any
// (only the slots with stuck cells are visited).
double tile_damage(const LayerTiles& layer, int64_t t, const TilePlacement& p, ChipCells& chip);

// Best wordline and weight-column orders for tile t on physical tile p.physical (rows, columns,
// rows; each an exact assignment, so the damage never grows). Returns the damage.
double optimise_tile_orders(const LayerTiles& layer, int64_t t, TilePlacement& p, ChipCells& chip);

}  // namespace stuckat::xbar
