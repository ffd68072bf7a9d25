// Merging the CSVs of one sweep run in pieces (job-array shards, separate resumed runs) into one
// file: every input must be a sweep CSV of the same model, no point may appear twice (identical
// or not), and the rows together must describe one grid (each row's index is its parameters'
// place in the grid their values span).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sweep/sweep_grid.h"

namespace stuckat::sweep {

struct SweepMergeResult {
  int64_t rows = 0;         // written
  int64_t grid_points = 0;  // points of the grid the rows span
  SweepGrid grid;
};

// Reads `inputs`, checks them and writes the rows in index order to `out` (a temporary file
// renamed into place). Throws InputError naming the file(s) and point at fault.
SweepMergeResult merge_sweep_csvs(const std::vector<std::string>& inputs, const std::string& out);

}  // namespace stuckat::sweep
