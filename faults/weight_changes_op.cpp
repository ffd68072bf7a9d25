// add_weight_changes (weight_changes_op.h): shape checks and the device dispatch.
#include "faults/weight_changes_op.h"

#include "framework/error.h"
#include "kernels/cuda/profile.h"
#ifdef STUCKAT_WITH_CUDA
#include "faults/sweep_delta_cuda.h"
#endif

namespace stuckat {

void add_weight_changes(const Tensor& x, const Tensor& y, const LayerGeometry& g, const std::vector<WeightChange>& changes) {
  STUCKAT_CHECK(x.dtype() == DType::F32 && y.dtype() == DType::F32 && x.is_contiguous() && y.is_contiguous() &&
                    x.device() == y.device() && x.dim() == (g.conv ? 4 : 2) && y.dim() == x.dim() && x.size(0) == y.size(0),
                "add_weight_changes: x {} and y {} must be contiguous f32 {} tensors on one device",
                shape_str(x.shape()), shape_str(y.shape()), g.conv ? "(n, c, h, w)" : "(n, features)");
  if (changes.empty()) return;
  const int64_t n = x.size(0), in = x.size(1), out = y.size(1);
  const int64_t per_out = in * (g.conv ? g.kh * g.kw : 1);
  STUCKAT_CHECK(per_out < (int64_t{1} << 31), "add_weight_changes: {} weights per output channel", per_out);
  for (size_t i = 0; i < changes.size(); ++i)
    STUCKAT_CHECK(changes[i].index >= 0 && changes[i].index < out * per_out && (i == 0 || changes[i - 1].index < changes[i].index),
                  "add_weight_changes: change indices must ascend within [0, {})", out * per_out);
  if (y.device() == Device::CPU) {
    if (g.conv)
      add_conv2d_weight_changes(x.data<float>(), y.data<float>(), n, in, x.size(2), x.size(3), out, g.kh, g.kw, g.stride,
                                g.pad, y.size(2), y.size(3), changes);
    else
      add_linear_weight_changes(x.data<float>(), y.data<float>(), n, in, out, changes);
    return;
  }
#ifdef STUCKAT_WITH_CUDA
  STUCKAT_GPU_PROFILE("sweep.add_weight_changes");
  // Group by output channel (the indices ascend, so each group is ascending too).
  std::vector<int32_t> starts(static_cast<size_t>(out + 1), 0), tap(changes.size());
  std::vector<float> delta(changes.size());
  for (size_t i = 0; i < changes.size(); ++i) {
    ++starts[static_cast<size_t>(changes[i].index / per_out) + 1];
    tap[i] = static_cast<int32_t>(changes[i].index % per_out);
    delta[i] = changes[i].delta;
  }
  for (size_t o = 0; o < static_cast<size_t>(out); ++o) starts[o + 1] += starts[o];
  const Tensor starts_dev = Tensor::from_vector(starts, {out + 1}).to(Device::CUDA);
  const Tensor tap_dev = Tensor::from_vector(tap, {static_cast<int64_t>(tap.size())}).to(Device::CUDA);
  const Tensor delta_dev = Tensor::from_vector(delta, {static_cast<int64_t>(delta.size())}).to(Device::CUDA);
  if (g.conv)
    add_conv2d_changes_cuda(x.data<float>(), y.data<float>(), n, in, x.size(2), x.size(3), out, g.kh, g.kw, g.stride,
                            g.pad, y.size(2), y.size(3), starts_dev.data<int32_t>(), tap_dev.data<int32_t>(),
                            delta_dev.data<float>());
  else
    add_linear_changes_cuda(x.data<float>(), y.data<float>(), n, in, out, starts_dev.data<int32_t>(),
                            tap_dev.data<int32_t>(), delta_dev.data<float>());
#else
  throw Error("add_weight_changes: this build has no CUDA backend");
#endif
}

}  // namespace stuckat
