// Launch geometry and a block-wide sum shared by the elementwise and per-channel kernels here.
// CUDA-only header (included by .cu files, never by host code).
#pragma once
#include <cstdint>

namespace stuckat::cuda {

constexpr int kBlock = 256;  // threads per block for one-thread-per-element kernels

inline unsigned grid_for(int64_t n) { return static_cast<unsigned>((n + kBlock - 1) / kBlock); }

__device__ inline int64_t global_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

// The same in the index type I of a kernel templated on it: int32_t whenever every index the
// launch forms fits (fits_int32), since integer division is emulated on the GPU and a 64-bit one
// costs several times a 32-bit one; int64_t otherwise.
template <typename I>
__device__ inline I thread_index() {
  return static_cast<I>(global_index());
}
inline bool fits_int32(int64_t largest_index) { return largest_index < (int64_t{1} << 31) - 1; }

// Sum of v over the block (blockDim.x == kBlock); every thread gets the result. The order is
// fixed by the thread layout, so the result is the same on every run.
__device__ inline float block_sum(float v) {
  __shared__ float warp_sums[kBlock / 32];
  for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads();  // warp_sums may still be read by a previous call
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < kBlock / 32; ++w) total += warp_sums[w];
  return total;
}

}  // namespace stuckat::cuda
