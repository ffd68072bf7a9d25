// One growing device buffer for the temporaries of a single kernel call (im2col columns,
// per-row losses). Everything runs on the default stream, so a call's kernels have finished
// with the buffer before the next call's kernels touch it; it grows (cudaFree synchronises)
// only when a larger request arrives, so a training step does not call cudaMalloc.
#pragma once
#include <cstddef>
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

// At least `bytes` of device memory, valid until the next scratch() call.
STUCKAT_CUDA_API void* scratch(size_t bytes) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
