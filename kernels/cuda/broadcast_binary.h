// Broadcast Add, Sub, Mul, Div on the GPU: the BroadcastPlan, formulas and gradients of
// kernels/cpu/broadcast_binary.h. Device pointers, default stream. The plan travels in the
// kernel's arguments (at most 8 dimensions of size > 1; more throws).
//   forward   one thread per output element
//   backward  one thread per input-gradient element, adding its terms over the broadcast
//             positions in increasing output order (the CPU reference's order; no atomics)
// Backward overwrites da and db; either may be null (a and b are read for Mul and Div only).
#pragma once
#include <cstdint>

#include "kernels/cpu/broadcast_binary.h"
#include "kernels/cuda/cuda_api.h"

namespace stuckat::cuda {

STUCKAT_CUDA_API void binary_forward(cpu::BinaryFn fn, const float* a, const float* b, float* y, const cpu::BroadcastPlan& p) STUCKAT_CUDA_STUB;
STUCKAT_CUDA_API void binary_backward(cpu::BinaryFn fn, const float* a, const float* b, const float* dy, float* da, float* db, const cpu::BroadcastPlan& p) STUCKAT_CUDA_STUB;

}  // namespace stuckat::cuda
