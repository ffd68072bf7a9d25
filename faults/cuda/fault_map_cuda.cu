// Fault masks on the GPU: one thread per weight, each deciding its weight from
// philox_words(seed, stream, first + i) alone (fault_map.h), exactly as the CPU loops do.
#include "faults/cuda/fault_map_cuda.h"
#include "base/error.h"
#include "kernels/cuda/cuda_check.h"

namespace stuckat {
namespace {

__global__ void add_faults_kernel(FaultDraw d, int64_t first, int64_t n, const float* w, uint16_t* and_mask,
                                  uint16_t* or_mask) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  int bit;
  bool sa1;
  const bool faulty = draw_stuck_bit(d, static_cast<uint64_t>(first + i), &bit, &sa1);
  if (faulty && !(d.nonzero_only && w[i] == 0.0f)) add_stuck_bit(&and_mask[i], &or_mask[i], bit, sa1);
}

}  // namespace

void add_faults_cuda(const FaultDraw& d, int64_t first, int64_t n, const float* w, uint16_t* and_mask,
                     uint16_t* or_mask) {
  STUCKAT_CHECK(!d.nonzero_only || w != nullptr, "target=nonzero needs the layer's weights");
  if (n <= 0) return;
  constexpr int kThreads = 256;
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  add_faults_kernel<<<static_cast<unsigned>(blocks), kThreads>>>(d, first, n, w, and_mask, or_mask);
  CUDA_CHECK_LAUNCH();
}

}  // namespace stuckat
