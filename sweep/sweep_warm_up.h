// The untimed warm-up before a sweep on a model copy (SweepRunOptions::device_model), for a caller
// that times the sweep. On a GPU, CUDA loads each kernel at its first launch, and loading one
// synchronizes the context: a kernel first launched while the device is busy stalls the host
// until the device drains, serializing the sweep's pipeline (kernels/cuda/preload.cuh). cuBLAS
// also loads and picks kernels per GEMM shape on first use, and the caching allocator meets each
// tensor size once. So: load the sweep's own kernels, then run a clean forward pass over the
// first test batch repeated as many times as the sweep's passes stack points (configs_per_pass,
// capped by pass_bytes the way the sweep caps a pass) and score it as a pass is scored. The
// PyTorch loop in bench/ likewise runs one untimed iteration of its own loop first.
#pragma once
#include <cstdint>

#include "sweep/sweep_runner.h"
#include "framework/data/dataset.h"

namespace stuckat::sweep {

// Loads the GPU kernels the sweep's device path launches; nothing without CUDA.
void preload_sweep_kernels();

// preload_sweep_kernels (when the copy is on the GPU), then the stacked pass. Returns the points
// the pass held (its images are that many batches); 1 when the sweep's passes hold one point each
// and only the first batch ran. `test` on the model copy's device.
int64_t warm_up_sweep(const Dataset& test, const SweepRunOptions& options);

}  // namespace stuckat::sweep
