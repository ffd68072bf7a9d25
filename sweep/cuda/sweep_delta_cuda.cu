// add_conv2d_changes_cuda / add_linear_changes_cuda (sweep_delta_cuda.h): one thread per output
// element running weight_changes_thread.h's body (a thread whose channel has no change writes
// nothing). Index arithmetic in int32_t whenever the tensors allow (fits_int32): a
// sweep runs these over tens of millions of outputs.
#include <algorithm>

#include "sweep/cuda/sweep_delta_cuda.h"
#include "sweep/weight_changes_thread.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/preload.cuh"

namespace stuckat::sweep {
namespace {

template <typename I>
__global__ void conv_changes_kernel(const float* x, float* y, I total, I in, I h, I w, I out, I stride, I pad, I ho,
                                    I wo, const int32_t* starts, const int32_t* tap, const float* delta) {
  const I e = cuda::thread_index<I>();
  float v;
  if (e < total && conv_change_at<I>(x, y, e, in, h, w, out, stride, pad, ho, wo, starts, tap, delta, &v)) y[e] = v;
}

template <typename I>
__global__ void linear_changes_kernel(const float* x, float* y, I total, I in, I out, const int32_t* starts,
                                      const int32_t* tap, const float* delta) {
  const I e = cuda::thread_index<I>();
  float v;
  if (e < total && linear_change_at<I>(x, y, e, in, out, starts, tap, delta, &v)) y[e] = v;
}

// Thread e of the stacked output: block p = e / per_block, element e - p * per_block of it.
template <typename I>
__global__ void stacked_changes_kernel(bool conv, const float* x, const float* clean, float* y, I per_block, I total,
                                       I in, I h, I w, I out, I stride, I pad, I ho, I wo, StackedChangeLists lists) {
  const I e = cuda::thread_index<I>();
  if (e >= total) return;
  const I p = e / per_block, le = e - p * per_block;
  if (lists.skip[p]) return;
  float v = clean[le];
  if (lists.starts[p] != nullptr) {
    float changed;
    const bool hit = conv ? conv_change_at<I>(x, clean, le, in, h, w, out, stride, pad, ho, wo, lists.starts[p],
                                              lists.tap[p], lists.delta[p], &changed)
                          : linear_change_at<I>(x, clean, le, in, out, lists.starts[p], lists.tap[p], lists.delta[p],
                                                &changed);
    if (hit) v = changed;
  }
  y[e] = v;
}

}  // namespace

void add_changes_stacked_cuda(bool conv, const float* x, const float* clean, float* y, int64_t blocks, int64_t n,
                              int64_t in, int64_t h, int64_t w, int64_t out, int64_t stride, int64_t pad, int64_t ho,
                              int64_t wo, const StackedChangeLists& lists) {
  const int64_t per_block = n * out * ho * wo, total = blocks * per_block;
  if (total == 0) return;
  const int64_t largest = std::max(total, n * in * h * w) + (h + w) * (stride + 1) + pad;
  if (cuda::fits_int32(largest)) {
    using I = int32_t;
    stacked_changes_kernel<I><<<cuda::grid_for(total), cuda::kBlock>>>(
        conv, x, clean, y, static_cast<I>(per_block), static_cast<I>(total), static_cast<I>(in), static_cast<I>(h),
        static_cast<I>(w), static_cast<I>(out), static_cast<I>(stride), static_cast<I>(pad), static_cast<I>(ho),
        static_cast<I>(wo), lists);
  } else {
    stacked_changes_kernel<int64_t><<<cuda::grid_for(total), cuda::kBlock>>>(conv, x, clean, y, per_block, total, in, h, w,
                                                                              out, stride, pad, ho, wo, lists);
  }
  CUDA_CHECK_LAUNCH();
}

void add_conv2d_changes_cuda(const float* x, float* y, int64_t n, int64_t in, int64_t h, int64_t w, int64_t out,
                             int64_t kh, int64_t kw, int64_t stride, int64_t pad, int64_t ho, int64_t wo,
                             const int32_t* starts, const int32_t* tap, const float* delta) {
  (void)kh, (void)kw;  // the taps carry ky and kx
  const int64_t count = n * out * ho * wo;
  if (count == 0) return;
  const int64_t largest = std::max(count, n * in * h * w) + (h + w) * (stride + 1) + pad;
  if (cuda::fits_int32(largest))
    conv_changes_kernel<int32_t><<<cuda::grid_for(count), cuda::kBlock>>>(
        x, y, static_cast<int32_t>(count), static_cast<int32_t>(in), static_cast<int32_t>(h), static_cast<int32_t>(w),
        static_cast<int32_t>(out), static_cast<int32_t>(stride), static_cast<int32_t>(pad), static_cast<int32_t>(ho),
        static_cast<int32_t>(wo), starts, tap, delta);
  else
    conv_changes_kernel<int64_t><<<cuda::grid_for(count), cuda::kBlock>>>(x, y, count, in, h, w, out, stride, pad, ho,
                                                                           wo, starts, tap, delta);
  CUDA_CHECK_LAUNCH();
}

void add_linear_changes_cuda(const float* x, float* y, int64_t n, int64_t in, int64_t out, const int32_t* starts,
                             const int32_t* tap, const float* delta) {
  const int64_t count = n * out;
  if (count == 0) return;
  if (cuda::fits_int32(std::max(count, n * in)))
    linear_changes_kernel<int32_t><<<cuda::grid_for(count), cuda::kBlock>>>(
        x, y, static_cast<int32_t>(count), static_cast<int32_t>(in), static_cast<int32_t>(out), starts, tap, delta);
  else
    linear_changes_kernel<int64_t><<<cuda::grid_for(count), cuda::kBlock>>>(x, y, count, in, out, starts, tap, delta);
  CUDA_CHECK_LAUNCH();
}

void preload_sweep_delta_kernels() {
  cuda::preload_kernel(conv_changes_kernel<int32_t>);
  cuda::preload_kernel(conv_changes_kernel<int64_t>);
  cuda::preload_kernel(linear_changes_kernel<int32_t>);
  cuda::preload_kernel(linear_changes_kernel<int64_t>);
  cuda::preload_kernel(stacked_changes_kernel<int32_t>);
  cuda::preload_kernel(stacked_changes_kernel<int64_t>);
}

}  // namespace stuckat::sweep
