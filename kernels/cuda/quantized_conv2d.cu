// conv2d forward reading 16-bit weight words: a direct convolution, one thread per output, the
// weight decoded (decode_word) as it is loaded. Consecutive threads share (image, filter), so a
// warp reads each weight word once (broadcast) and neighbouring input pixels.
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
__global__ void conv2d_words_kernel(const float* x, const uint16_t* words, float step, const float* b, float* y,
                                    cpu::Conv2dShape s, int64_t ho, int64_t wo) {
  const int64_t o = global_index();
  if (o >= s.n * s.c_out * ho * wo) return;
  const int64_t ox = o % wo, oy = o / wo % ho, co = o / (wo * ho) % s.c_out, ni = o / (wo * ho * s.c_out);
  float acc = b ? b[co] : 0.0f;
  for (int64_t ci = 0; ci < s.c_in; ++ci) {
    const float* xc = x + (ni * s.c_in + ci) * s.h * s.w;
    const uint16_t* wc = words + (co * s.c_in + ci) * s.kh * s.kw;
    for (int64_t ky = 0; ky < s.kh; ++ky) {
      const int64_t iy = oy * s.stride - s.pad + ky;
      if (iy < 0 || iy >= s.h) continue;
      for (int64_t kx = 0; kx < s.kw; ++kx) {
        const int64_t ix = ox * s.stride - s.pad + kx;
        if (ix < 0 || ix >= s.w) continue;
        acc = fmaf(xc[iy * s.w + ix], decode_word(wc[ky * s.kw + kx], K, step), acc);
      }
    }
  }
  y[o] = acc;
}

}  // namespace

void conv2d_words_forward(const float* x, const uint16_t* words, WeightFormatKind kind, float step, const float* b,
                          float* y, const cpu::Conv2dShape& s) {
  STUCKAT_GPU_PROFILE("conv2d_words.fwd");
  const int64_t ho = s.h_out(), wo = s.w_out(), n = s.n * s.c_out * ho * wo;
  if (n == 0) return;
  dispatch_word_kind(kind, [&](auto k) {
    conv2d_words_kernel<decltype(k)::value><<<grid_for(n), kBlock>>>(x, words, step, b, y, s, ho, wo);
    CUDA_CHECK_LAUNCH();
  });
}

}  // namespace stuckat::cuda
