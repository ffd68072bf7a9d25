// channel_delta_cuda (channel_delta_cuda.h).
#include "faults/channel_delta_cuda.h"

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/profile.h"
#include "kernels/cuda/select_blocks.h"

namespace stuckat {
namespace {

struct InlineChannels {
  int32_t v[cuda::kInlineIndices];
};

__global__ void channel_delta_kernel(const float* x, const float* clean_out, const float* ref, InlineChannels inline_c,
                                     const int32_t* channels_dev, const int32_t* starts, const int32_t* tap,
                                     const float* delta, ChannelDeltaDims d, int64_t total, float* out) {
  const int64_t e = cuda::global_index();
  if (e >= total) return;
  const int64_t j = channel_delta_slot(d, e);
  const int64_t c = channels_dev != nullptr ? channels_dev[j] : inline_c.v[j];
  out[e] = channel_delta_at(x, clean_out, ref, starts, tap, delta, d, e, c);
}

}  // namespace

void channel_delta_cuda(const float* x, const float* clean_out, const float* ref, const int64_t* channels,
                        const int32_t* starts, const int32_t* tap, const float* delta, const ChannelDeltaDims& d,
                        float* out) {
  STUCKAT_GPU_PROFILE("sweep.channel_delta");
  const int64_t total = d.n * d.k * d.ph * d.pw;
  if (total == 0) return;
  InlineChannels inline_c{};
  Tensor channels_dev;  // long lists only
  if (d.k > cuda::kInlineIndices) {
    channels_dev = Tensor::from_vector(std::vector<int32_t>(channels, channels + d.k), {d.k}).to(Device::CUDA);
  } else {
    for (int64_t j = 0; j < d.k; ++j) inline_c.v[j] = static_cast<int32_t>(channels[j]);
  }
  channel_delta_kernel<<<cuda::grid_for(total), cuda::kBlock>>>(
      x, clean_out, ref, inline_c, channels_dev.defined() ? channels_dev.data<int32_t>() : nullptr, starts, tap, delta, d,
      total, out);
  CUDA_CHECK_LAUNCH();
}

}  // namespace stuckat
