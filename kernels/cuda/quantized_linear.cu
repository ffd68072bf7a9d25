// linear forward reading 16-bit weight words: one warp per output (row r, feature o); the lanes
// stride over the input features, so a warp reads one weight row coalesced and decodes it on
// the fly, then the lanes' partial sums meet in a shuffle reduction.
#include <type_traits>

#include "base/word_codec.h"
#include "kernels/cuda/profile.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/quantized_layers.h"
#include "kernels/cuda/word_dispatch.cuh"

namespace stuckat::cuda {
namespace {

template <WeightFormatKind K>
__global__ void linear_words_kernel(const float* x, const uint16_t* words, float step, const float* b, float* y,
                                    cpu::LinearShape s) {
  const int64_t warp = global_index() / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= s.n * s.out) return;  // whole warps leave together (kBlock is a multiple of 32)
  const int64_t r = warp / s.out, o = warp % s.out;
  const float* xr = x + r * s.in;
  const uint16_t* wo = words + o * s.in;
  float part = 0.0f;
  for (int64_t i = lane; i < s.in; i += 32) part = fmaf(xr[i], decode_word(wo[i], K, step), part);
  for (int off = 16; off > 0; off /= 2) part += __shfl_down_sync(0xffffffffu, part, off);
  if (lane == 0) y[warp] = b ? part + b[o] : part;
}

}  // namespace

void linear_words_forward(const float* x, const uint16_t* words, WeightFormatKind kind, float step, const float* b,
                          float* y, const cpu::LinearShape& s) {
  STUCKAT_GPU_PROFILE("linear_words.fwd");
  const int64_t outputs = s.n * s.out;
  if (outputs == 0) return;
  dispatch_word_kind(kind, [&](auto k) {
    linear_words_kernel<decltype(k)::value><<<grid_for(outputs * 32), kBlock>>>(x, words, step, b, y, s);
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace stuckat::cuda
