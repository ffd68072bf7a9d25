// add_weight_changes (weight_changes_op.h): shape checks and the device dispatch.
#include "sweep/weight_changes_op.h"

#include <algorithm>

#include "base/error.h"
#include "framework/ops.h"
#include "kernels/cuda/profile.h"
#include "sweep/cuda/sweep_delta_cuda.h"

namespace stuckat::sweep {

namespace {

// pack_weight_changes's checks of one list.
void check_changes(const PackedChanges& c) {
  STUCKAT_CHECK(c.out >= 0 && c.per_out >= 1 && c.per_out < (int64_t{1} << 31),
                "add_weight_changes: {} output channels of {} weights", c.out, c.per_out);
  const LayerGeometry& g = c.geometry;
  if (g.conv)
    STUCKAT_CHECK(g.kh >= 1 && g.kw >= 1 && g.kh <= 255 && g.kw <= 255 && c.per_out % (g.kh * g.kw) == 0 &&
                      c.per_out / (g.kh * g.kw) <= 32767,
                  "add_weight_changes: {} weights per output channel of a {}x{} conv (taps are coded for kernels "
                  "up to 255x255 and 32767 input channels)", c.per_out, g.kh, g.kw);
  for (size_t i = 0; i < c.list.size(); ++i)
    STUCKAT_CHECK(c.list[i].index >= 0 && c.list[i].index < c.out * c.per_out &&
                      (i == 0 || c.list[i - 1].index < c.list[i].index),
                  "add_weight_changes: change indices must ascend within [0, {})", c.out * c.per_out);
}

}  // namespace

void pack_weight_changes(std::vector<PackedChanges>& lists, Device device) {
  int64_t total_taps = 0, total_starts = 0;
  for (const PackedChanges& c : lists) {
    check_changes(c);
    total_taps += static_cast<int64_t>(c.list.size());
    total_starts += c.out + 1;
  }
  if (total_taps == 0) return;  // add_weight_changes skips empty lists
  // One I32 buffer (each list's starts, then its taps) and one F32 buffer (the deltas).
  std::vector<int32_t> ints;
  std::vector<float> deltas;
  ints.reserve(static_cast<size_t>(total_starts + total_taps));
  deltas.reserve(static_cast<size_t>(total_taps));
  for (const PackedChanges& c : lists) {
    const size_t first = ints.size();
    ints.resize(first + static_cast<size_t>(c.out + 1), 0);
    for (const WeightChange& w : c.list) ++ints[first + static_cast<size_t>(w.index / c.per_out) + 1];
    for (size_t o = 0; o < static_cast<size_t>(c.out); ++o) ints[first + o + 1] += ints[first + o];
    const LayerGeometry& g = c.geometry;
    for (const WeightChange& w : c.list) {
      const int64_t r = w.index % c.per_out;
      ints.push_back(g.conv ? tap_code(r / (g.kh * g.kw), r / g.kw % g.kh, r % g.kw) : static_cast<int32_t>(r));
      deltas.push_back(w.delta);
    }
  }
  const Tensor ints_dev = Tensor::from_vector(ints, {static_cast<int64_t>(ints.size())}).to(device);
  const Tensor deltas_dev = Tensor::from_vector(deltas, {static_cast<int64_t>(deltas.size())}).to(device);
  int64_t at = 0, d = 0;
  for (PackedChanges& c : lists) {
    const int64_t taps = static_cast<int64_t>(c.list.size());
    c.starts = slice_rows(ints_dev, at, at + c.out + 1);
    c.tap = slice_rows(ints_dev, at + c.out + 1, at + c.out + 1 + taps);
    c.delta = slice_rows(deltas_dev, d, d + taps);
    at += c.out + 1 + taps;
    d += taps;
  }
}

void add_weight_changes(const Tensor& x, const Tensor& y, const LayerGeometry& g, const PackedChanges& changes) {
  STUCKAT_CHECK(x.dtype() == DType::F32 && y.dtype() == DType::F32 && x.is_contiguous() && y.is_contiguous() &&
                    x.device() == y.device() && x.dim() == (g.conv ? 4 : 2) && y.dim() == x.dim() && x.size(0) == y.size(0),
                "add_weight_changes: x {} and y {} must be contiguous f32 {} tensors on one device",
                shape_str(x.shape()), shape_str(y.shape()), g.conv ? "(n, c, h, w)" : "(n, features)");
  const int64_t n = x.size(0), in = x.size(1), out = y.size(1);
  STUCKAT_CHECK(changes.out == out && changes.per_out == in * (g.conv ? g.kh * g.kw : 1) &&
                    changes.geometry.conv == g.conv && (!g.conv || (changes.geometry.kh == g.kh && changes.geometry.kw == g.kw)),
                "add_weight_changes: changes packed for {} x {} weights, the layer has {} x {}", changes.out,
                changes.per_out, out, in * (g.conv ? g.kh * g.kw : 1));
  if (changes.list.empty()) return;
  if (y.device() == Device::CPU) {
    if (g.conv)
      add_conv2d_weight_changes(x.data<float>(), y.data<float>(), n, in, x.size(2), x.size(3), out, g.kh, g.kw, g.stride,
                                g.pad, y.size(2), y.size(3), changes.list);
    else
      add_linear_weight_changes(x.data<float>(), y.data<float>(), n, in, out, changes.list);
    return;
  }
  STUCKAT_CHECK(changes.starts.defined() && changes.starts.device() == y.device(),
                "add_weight_changes: the changes are not packed for the GPU");
  STUCKAT_GPU_PROFILE("sweep.add_weight_changes");
  if (g.conv)
    add_conv2d_changes_cuda(x.data<float>(), y.data<float>(), n, in, x.size(2), x.size(3), out, g.kh, g.kw, g.stride,
                            g.pad, y.size(2), y.size(3), changes.starts.data<int32_t>(), changes.tap.data<int32_t>(),
                            changes.delta.data<float>());
  else
    add_linear_changes_cuda(x.data<float>(), y.data<float>(), n, in, out, changes.starts.data<int32_t>(),
                            changes.tap.data<int32_t>(), changes.delta.data<float>());
}

void add_weight_changes_stacked(const Tensor& x, const Tensor& clean, const Tensor& y, const LayerGeometry& g,
                                const std::vector<const PackedChanges*>& lists) {
  const int64_t n = x.size(0), blocks = static_cast<int64_t>(lists.size());
  STUCKAT_CHECK(clean.dtype() == DType::F32 && clean.is_contiguous() && clean.device() == y.device() && clean.dim() >= 2 &&
                    clean.size(0) == n && y.is_contiguous() && y.dim() == clean.dim() && y.size(0) == blocks * n &&
                    y.numel() == blocks * clean.numel(),
                "add_weight_changes_stacked: {} blocks shaped like the clean output {} in y {}", blocks,
                shape_str(clean.shape()), shape_str(y.shape()));
  if (y.device() == Device::CPU) {
    for (int64_t p = 0; p < blocks; ++p) {
      const PackedChanges* c = lists[static_cast<size_t>(p)];
      if (c == nullptr) continue;
      Tensor block = slice_rows(y, p * n, (p + 1) * n);
      block.copy_(clean);
      add_weight_changes(x, block, g, *c);
    }
    return;
  }
  STUCKAT_CHECK(x.dtype() == DType::F32 && x.is_contiguous() && x.device() == y.device() && x.dim() == (g.conv ? 4 : 2) &&
                    clean.dim() == x.dim(),
                "add_weight_changes_stacked: x {} must be a contiguous f32 {} tensor on y's device", shape_str(x.shape()),
                g.conv ? "(n, c, h, w)" : "(n, features)");
  const int64_t in = x.size(1), out = clean.size(1);
  STUCKAT_GPU_PROFILE("sweep.add_weight_changes_stacked");
  for (int64_t p0 = 0; p0 < blocks; p0 += kStackedBlocks) {
    const int64_t p1 = std::min<int64_t>(blocks, p0 + kStackedBlocks);
    StackedChangeLists l{};
    for (int64_t p = p0; p < p1; ++p) {
      const PackedChanges* c = lists[static_cast<size_t>(p)];
      const size_t j = static_cast<size_t>(p - p0);
      l.skip[j] = c == nullptr;
      if (c == nullptr) continue;
      STUCKAT_CHECK(c->out == out && c->per_out == in * (g.conv ? g.kh * g.kw : 1) && c->geometry.conv == g.conv,
                    "add_weight_changes_stacked: changes packed for {} x {} weights, the layer has {} x {}", c->out,
                    c->per_out, out, in * (g.conv ? g.kh * g.kw : 1));
      if (c->list.empty()) continue;  // the clean output alone
      STUCKAT_CHECK(c->starts.defined() && c->starts.device() == y.device(),
                    "add_weight_changes_stacked: the changes are not packed for the GPU");
      l.starts[j] = c->starts.data<int32_t>();
      l.tap[j] = c->tap.data<int32_t>();
      l.delta[j] = c->delta.data<float>();
    }
    const int64_t per_block = clean.numel();
    add_changes_stacked_cuda(g.conv, x.data<float>(), clean.data<float>(), y.data<float>() + p0 * per_block, p1 - p0, n,
                             in, g.conv ? x.size(2) : 1, g.conv ? x.size(3) : 1, out, g.conv ? g.stride : 1,
                             g.conv ? g.pad : 0, g.conv ? clean.size(2) : 1, g.conv ? clean.size(3) : 1, l);
  }
}

void add_weight_changes(const Tensor& x, const Tensor& y, const LayerGeometry& g, const std::vector<WeightChange>& changes) {
  STUCKAT_CHECK(x.dim() >= 2 && y.dim() >= 2, "add_weight_changes: x {} and y {} need a channel dimension",
                shape_str(x.shape()), shape_str(y.shape()));
  std::vector<PackedChanges> packed(1);
  packed[0].list = changes;
  packed[0].out = y.size(1);
  packed[0].per_out = x.size(1) * (g.conv ? g.kh * g.kw : 1);
  packed[0].geometry = g;
  if (y.device() == Device::CPU)
    check_changes(packed[0]);  // the CPU loops read the list: no grouped arrays to build
  else
    pack_weight_changes(packed, y.device());
  add_weight_changes(x, y, g, packed[0]);
}

}  // namespace stuckat::sweep
