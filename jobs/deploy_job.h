// The `deploy` job: a trained (and possibly pruned) checkpoint mapped onto a faulty bit-sliced
// chip. For every layout strategy x placement x chip seed: the layers' logical tiles (a strategy's
// layout for tiles of R rows x floor(C / k) weight columns) are placed on physical tiles (naive or
// fault-aware, with spare tiles), the weights are read back through the stuck cells, and the
// network is evaluated with them. Reports tiles, spares, stuck cells under weights, changed
// weights, zeros read nonzero, squared error and test accuracy; can write each result's fault
// masks (the files `eval --fault-masks` and `train --fault-masks` read) and its placement.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "base/device.h"
#include "framework/data/dataset.h"

namespace stuckat::jobs {

inline constexpr const char* kDefaultChip = "rate=0.01,sa=1.75:9.04,seed=0";

struct DeployOptions {
  DataOptions data;
  Device device = Device::CPU;
  std::string checkpoint, model;       // model empty: from the checkpoint
  std::string quant;                   // empty: the checkpoint's recorded format (q4.11 if none)
  std::string size = "128";            // tile cells: S (S x S) or RxC
  std::string rect;                    // RxC, overrides size (as xbar's --rect)
  std::string cell_bits = "2";         // bits per cell: 1, 2, 4, 8, 16
  std::string chip;                    // empty: kDefaultChip (unless chip_map is given)
  std::string chip_seeds;              // e.g. "0-9": overrides the spec's seed, one result per chip
  std::string chip_map;                // measured cell states (crossbar/chip_map.h) instead of --chip
  std::string layouts = "none";        // strategies of `xbar`
  std::string placements = "naive,fault-aware";
  std::string spare_tiles = "0";       // a count, or a fraction of the tiles used ("0.1")
  int64_t batch = 1000;
  int64_t sensitivity = 0;             // training images for the weights' squared gradients (0: all weights count 1)
  std::string json, masks_out, placement_out;  // optional outputs (masks/placements: directories)
  std::string chip_map_out;            // the chip's cells (first seed) in the --chip-map format
};

struct DeployResult {
  nlohmann::json report;  // {"clean_test_acc", "results": [...]}
  std::string text;       // the table
};

DeployResult run_deploy(const DeployOptions& options);

}  // namespace stuckat::jobs
