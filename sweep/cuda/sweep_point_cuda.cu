// fault_layer on the GPU (sweep_point_cuda.h): one thread per weight, the counts summed per
// block with __syncthreads_count and added to the counters once per block.
#include "sweep/cuda/sweep_point_cuda.h"

#include "base/word_codec.h"
#include "base/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/preload.cuh"
#include "kernels/cuda/profile.h"
#include "kernels/cuda/word_dispatch.cuh"

namespace stuckat::sweep {
namespace {

constexpr int kThreads = 256;

// Weight i of one point: its faulted word decoded into out[i], its bit in changed_bits, the
// block's counts added to counters[0..1].
template <WeightFormatKind K>
__device__ void fault_layer_thread(const FaultDraw& d, const uint16_t* words, const float* clean, int64_t n, float step,
                                   float* out, unsigned long long* counters, uint32_t* changed_bits) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  bool faulty = false, changed = false;
  if (i < n) {
    const uint16_t word = words[i];
    const uint16_t faulted = point_fault_word(d, static_cast<uint64_t>(i), word, d.nonzero_only ? clean[i] : 1.0f, &faulty);
    changed = faulted != word;
    out[i] = decode_word(faulted, K, step);
  }
  if (changed_bits) {  // kThreads is a multiple of 32: a warp's 32 weights make one entry
    const unsigned mask = __ballot_sync(0xffffffffu, changed);
    if (threadIdx.x % 32 == 0 && i < n) changed_bits[i / 32] = mask;
  }
  const int block_faulty = __syncthreads_count(faulty), block_changed = __syncthreads_count(changed);
  if (threadIdx.x == 0) {
    if (block_faulty) atomicAdd(&counters[0], static_cast<unsigned long long>(block_faulty));
    if (block_changed) atomicAdd(&counters[1], static_cast<unsigned long long>(block_changed));
  }
}

template <WeightFormatKind K>
__global__ void fault_layer_kernel(FaultDraw d, const uint16_t* words, const float* clean, int64_t n, float step,
                                   float* out, unsigned long long* counters, uint32_t* changed_bits) {
  fault_layer_thread<K>(d, words, clean, n, step, out, counters, changed_bits);
}

// Point blockIdx.y of a stack: row y of out, counters and changed_bits.
template <WeightFormatKind K>
__global__ void fault_layers_kernel(StackedDraws draws, const uint16_t* words, const float* clean, int64_t n, float step,
                                    float* out, unsigned long long* counters, uint32_t* changed_bits) {
  const int64_t y = blockIdx.y, bit_words = (n + 31) / 32;
  fault_layer_thread<K>(draws.d[y], words, clean, n, step, out + y * n, counters + 2 * y,
                        changed_bits ? changed_bits + y * bit_words : nullptr);
}

}  // namespace

void fault_layer_cuda(const FaultDraw& d, const uint16_t* words, const float* clean, int64_t n,
                      const WeightFormat& format, float* out, unsigned long long* counters, uint32_t* changed_bits) {
  STUCKAT_GPU_PROFILE("sweep.fault_layer_cuda");
  STUCKAT_CHECK(!d.nonzero_only || clean != nullptr, "target=nonzero needs the layer's weights");
  CUDA_CHECK(cudaMemsetAsync(counters, 0, 2 * sizeof(unsigned long long)));
  if (n > 0) {
    const unsigned blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
    cuda::dispatch_word_kind(format.kind, [&](auto k) {
      fault_layer_kernel<decltype(k)::value><<<blocks, kThreads>>>(d, words, clean, n, format.step(), out, counters,
                                                                    changed_bits);
      CUDA_CHECK_LAUNCH();
    });
  }
}

void fault_layers_cuda(const StackedDraws& draws, int64_t points, const uint16_t* words, const float* clean, int64_t n,
                       const WeightFormat& format, float* out, unsigned long long* counters, uint32_t* changed_bits) {
  STUCKAT_GPU_PROFILE("sweep.fault_layers_cuda");
  STUCKAT_CHECK(points >= 0 && points <= kStackedDrawsMax, "fault_layers_cuda: {} points in one launch", points);
  for (int64_t p = 0; p < points; ++p)
    STUCKAT_CHECK(!draws.d[p].nonzero_only || clean != nullptr, "target=nonzero needs the layer's weights");
  if (points == 0) return;
  CUDA_CHECK(cudaMemsetAsync(counters, 0, static_cast<size_t>(2 * points) * sizeof(unsigned long long)));
  if (n > 0) {
    const dim3 grid(static_cast<unsigned>((n + kThreads - 1) / kThreads), static_cast<unsigned>(points));
    cuda::dispatch_word_kind(format.kind, [&](auto k) {
      fault_layers_kernel<decltype(k)::value><<<grid, kThreads>>>(draws, words, clean, n, format.step(), out, counters,
                                                                   changed_bits);
      CUDA_CHECK_LAUNCH();
    });
  }
}

void preload_fault_layer_kernels() {
  for (WeightFormatKind kind : {WeightFormatKind::Fixed, WeightFormatKind::MaxAbs, WeightFormatKind::SignMag,
                                WeightFormatKind::Fp16})
    cuda::dispatch_word_kind(kind, [](auto k) {
      cuda::preload_kernel(fault_layer_kernel<decltype(k)::value>);
      cuda::preload_kernel(fault_layers_kernel<decltype(k)::value>);
    });
}

}  // namespace stuckat::sweep
