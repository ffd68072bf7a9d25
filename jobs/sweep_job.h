// The `sweep` job: evaluates a checkpoint under a grid of stuck-at faults (layer x bit x stuck
// value x rate x seed x format, plus each format's clean baseline), appending one CSV row per
// point as points finish; resumable and splittable into shards.
#pragma once
#include <cstdint>
#include <string>

#include "base/device.h"
#include "framework/data/dataset.h"

namespace stuckat::jobs {

struct SweepOptions {
  DataOptions data;
  Device device = Device::CPU;
  std::string checkpoint, model, out;  // model empty: recorded in the checkpoint
  std::string summary;  // non-empty: per point's seeds, mean accuracy and 95% half-width, as CSV
  // The grid, as the flags write it: lists and ranges ("0-15", "3,11,15", "all").
  std::string layers = "all", bits = "0-15", stuck = "0,1", rates = "0.01", seeds = "0", formats = "q4.11";
  // seeds "auto": per point, seeds until the 95% confidence half-width of its mean accuracy is at
  // most ci accuracy points (sweep/adaptive_seeds.h), at least min_seeds, at most max_seeds.
  double ci = 0.5;
  int64_t min_seeds = 3, max_seeds = 30;
  std::string shard = "0/1";  // i/n: the points with index % n == i
  bool resume = false;        // keep the rows already in `out`, run the missing points
  int64_t batch = 1000, configs_per_pass = 10, max_points = 0;
  double cache_gb = 2.0;  // clean activations reused across points
  double pass_gb = 4.0;   // GPU: activation memory of one pass
};

struct SweepResult {
  int64_t points = 0;  // evaluated by this run
  int64_t images = 0;  // test images per point
  double seconds = 0;
  std::string text;  // the summary table of every row in `out` and a closing line
};

// Runs the job; rows go to options.out as they finish, progress to stderr. Throws InputError
// for bad options or files.
SweepResult run_sweep_job(SweepOptions options);

}  // namespace stuckat::jobs
