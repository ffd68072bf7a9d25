// channel_delta_cuda (channel_delta_cuda.h).
#include "sweep/cuda/channel_delta_cuda.h"

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/preload.cuh"
#include "kernels/cuda/profile.h"
#include "kernels/cuda/select_blocks.h"

namespace stuckat::sweep {
namespace {

struct InlineChannels {
  int32_t v[cuda::kInlineIndices];
};

template <typename I>
__global__ void channel_delta_kernel(const float* x, const float* clean_out, const float* ref, InlineChannels inline_c,
                                     const int32_t* channels_dev, const int32_t* starts, const int32_t* tap,
                                     const float* delta, ChannelDeltaDims d, I total, float* out) {
  const I e = cuda::thread_index<I>();
  if (e >= total) return;
  const I j = channel_delta_slot<I>(d, e);
  const I c = channels_dev != nullptr ? channels_dev[j] : inline_c.v[j];
  out[e] = channel_delta_at<I>(x, clean_out, ref, starts, tap, delta, d, e, c);
}

// Element e of `blocks` stacked blocks of per values: block e / per, element e % per of it.
template <typename I>
__global__ void channel_delta_stacked_kernel(const float* x, const float* clean_out, const float* ref,
                                             StackedChangeLists lists, ChannelDeltaDims d, I per, I total, float* out) {
  const I e = cuda::thread_index<I>();
  if (e >= total) return;
  const I p = e / per, le = e - p * per;
  out[e] = channel_delta_all_at<I>(x, clean_out, ref, lists.starts[p], lists.tap[p], lists.delta[p], d, le);
}

}  // namespace

void channel_delta_stacked_cuda(const float* x, const float* clean_out, const float* ref, const StackedChangeLists& lists,
                                int64_t blocks, const ChannelDeltaDims& d, float* out) {
  STUCKAT_GPU_PROFILE("sweep.channel_delta_stacked");
  const int64_t per = d.n * d.c * d.ph * d.pw, total = blocks * per;
  if (total == 0) return;
  if (channel_delta_fits_int32(d) && cuda::fits_int32(total))
    channel_delta_stacked_kernel<int32_t><<<cuda::grid_for(total), cuda::kBlock>>>(
        x, clean_out, ref, lists, d, static_cast<int32_t>(per), static_cast<int32_t>(total), out);
  else
    channel_delta_stacked_kernel<int64_t><<<cuda::grid_for(total), cuda::kBlock>>>(x, clean_out, ref, lists, d, per, total,
                                                                                     out);
  CUDA_CHECK_LAUNCH();
}

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
  const int32_t* list = channels_dev.defined() ? channels_dev.data<int32_t>() : nullptr;
  if (channel_delta_fits_int32(d))
    channel_delta_kernel<int32_t><<<cuda::grid_for(total), cuda::kBlock>>>(x, clean_out, ref, inline_c, list, starts, tap,
                                                                           delta, d, static_cast<int32_t>(total), out);
  else
    channel_delta_kernel<int64_t><<<cuda::grid_for(total), cuda::kBlock>>>(x, clean_out, ref, inline_c, list, starts, tap,
                                                                           delta, d, total, out);
  CUDA_CHECK_LAUNCH();
}

void preload_channel_delta_kernels() {
  cuda::preload_kernel(channel_delta_kernel<int32_t>);
  cuda::preload_kernel(channel_delta_kernel<int64_t>);
  cuda::preload_kernel(channel_delta_stacked_kernel<int32_t>);
  cuda::preload_kernel(channel_delta_stacked_kernel<int64_t>);
}

}  // namespace stuckat::sweep
