// Prune masks on the GPU: x[i] = 0 wherever keep[i] == 0 (device pointers). Used after an SGD
// step for pruned weights and their momentum, and to apply masks to weights on the device.
// Launches on the default stream and checks the launch.
#pragma once
#include <cstdint>

namespace stuckat::cuda {

void zero_pruned(float* x, const uint8_t* keep, int64_t n);

}  // namespace stuckat::cuda
