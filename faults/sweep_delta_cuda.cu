// add_conv2d_changes_cuda / add_linear_changes_cuda (sweep_delta_cuda.h): one thread per output
// element; a thread whose channel has no change returns at once.
#include "faults/sweep_delta_cuda.h"
#include "faults/weight_changes_op.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/launch.cuh"

namespace stuckat {
namespace {

__global__ void conv_changes_kernel(const float* x, float* y, int64_t n, int64_t in, int64_t h, int64_t w,
                                    int64_t out, int64_t kh, int64_t kw, int64_t stride, int64_t pad, int64_t ho,
                                    int64_t wo, const int32_t* starts, const int32_t* tap, const float* delta) {
  const int64_t e = cuda::global_index();
  if (e >= n * out * ho * wo) return;
  const int64_t plane = e / (ho * wo), q = e - plane * (ho * wo), o = plane % out, img = plane / out;
  const int32_t first = starts[o], last = starts[o + 1];
  if (first == last) return;
  const int64_t oy = q / wo, ox = q - oy * wo;
  float acc = y[e];
  for (int32_t j = first; j < last; ++j) {
    const int32_t t = tap[j], kx = tap_kx(t), ky = tap_ky(t), ci = tap_channel(t);
    const int64_t iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
    acc += delta[j] * x[((img * in + ci) * h + iy) * w + ix];
  }
  y[e] = acc;
}

__global__ void linear_changes_kernel(const float* x, float* y, int64_t n, int64_t in, int64_t out,
                                      const int32_t* starts, const int32_t* tap, const float* delta) {
  const int64_t e = cuda::global_index();
  if (e >= n * out) return;
  const int64_t img = e / out, o = e - img * out;
  const int32_t first = starts[o], last = starts[o + 1];
  if (first == last) return;
  float acc = y[e];
  for (int32_t j = first; j < last; ++j) acc += delta[j] * x[img * in + tap[j]];
  y[e] = acc;
}

}  // namespace

void add_conv2d_changes_cuda(const float* x, float* y, int64_t n, int64_t in, int64_t h, int64_t w, int64_t out,
                             int64_t kh, int64_t kw, int64_t stride, int64_t pad, int64_t ho, int64_t wo,
                             const int32_t* starts, const int32_t* tap, const float* delta) {
  const int64_t count = n * out * ho * wo;
  if (count == 0) return;
  conv_changes_kernel<<<cuda::grid_for(count), cuda::kBlock>>>(x, y, n, in, h, w, out, kh, kw, stride, pad, ho, wo,
                                                               starts, tap, delta);
  CUDA_CHECK_LAUNCH();
}

void add_linear_changes_cuda(const float* x, float* y, int64_t n, int64_t in, int64_t out, const int32_t* starts,
                             const int32_t* tap, const float* delta) {
  const int64_t count = n * out;
  if (count == 0) return;
  linear_changes_kernel<<<cuda::grid_for(count), cuda::kBlock>>>(x, y, n, in, out, starts, tap, delta);
  CUDA_CHECK_LAUNCH();
}

}  // namespace stuckat
