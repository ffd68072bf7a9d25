// Prune masks on the GPU: x[i] = 0 wherever keep[i] == 0 (device pointers). Used after an SGD
// step for pruned weights and their momentum, and to apply masks to weights on the device.
// Launches on the default stream and checks the launch.
#pragma once
#include <cstdint>
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API void zero_pruned(float* x, const uint8_t* keep, int64_t n) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
