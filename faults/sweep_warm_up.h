// An untimed warm-up for a sweep on a model copy (SweepRunOptions::device_model): a clean forward
// pass over the first test batch repeated as many times as the sweep's passes stack points
// (configs_per_pass, capped by pass_bytes the way the sweep caps a pass), scored as a pass is
// scored. On a GPU the libraries load kernels and choose GEMM algorithms per shape on first use,
// and the caching allocator meets each tensor size once; a caller that times the sweep runs this
// (and a plain evaluation) first, as the PyTorch loop in bench/ evaluates once before its timer.
// `sweep --device cuda` runs it when STUCKAT_SWEEP_WARMUP_PASS is set (an experiment: whether the
// first chunk's extra time on the GPU is such first-use cost; see bench/RESULTS.md).
#pragma once
#include <cstdint>

#include "faults/sweep_runner.h"
#include "framework/data/dataset.h"

namespace stuckat {

// Returns the points the stacked pass held (its images are that many batches); 1 when the sweep's
// passes hold one point each and only the first batch ran. `test` on the model copy's device.
int64_t warm_up_sweep(const Dataset& test, const SweepRunOptions& options);

}  // namespace stuckat
