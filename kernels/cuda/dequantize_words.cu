// Words -> float weights on the GPU, one thread per word: the decode the quantized layers fuse,
// exposed on its own so tests can check it bit for bit against the CPU.
#include <type_traits>

#include "base/word_codec.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/quantized_layers.h"
#include "kernels/cuda/word_dispatch.cuh"

namespace stuckat::cuda {
namespace {

template <WeightFormatKind K>
__global__ void dequantize_kernel(const uint16_t* words, int64_t n, float step, float* out) {
  const int64_t i = global_index();
  if (i < n) out[i] = decode_word(words[i], K, step);
}

}  // namespace

void dequantize_words(const uint16_t* words, int64_t n, WeightFormatKind kind, float step, float* out) {
  if (n == 0) return;
  dispatch_word_kind(kind, [&](auto k) {
    dequantize_kernel<decltype(k)::value><<<grid_for(n), kBlock>>>(words, n, step, out);
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace stuckat::cuda
