// The shared pieces of the sweep paths (sweep_stages.h).
#include "sweep/sweep_stages.h"

#include <algorithm>
#include <cmath>

#include "sweep/channel_delta.h"
#include "base/error.h"
#include "framework/ops.h"

namespace stuckat::sweep {

TestBatches split_test_set(const Dataset& test, int64_t batch, Device device) {
  STUCKAT_CHECK(test.images.is_contiguous() && test.labels.is_contiguous() && test.images.device() == test.labels.device(),
                "the sweep's test images and labels must be contiguous on one device");
  STUCKAT_CHECK(test.images.device() == Device::CPU || test.images.device() == device,
                "the sweep's test set is on {}, its forward passes on {}", device_name(test.images.device()),
                device_name(device));
  TestBatches b;
  const int64_t n = test.size();
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t end = std::min(n, start + batch);
    Tensor im = slice_rows(test.images, start, end), lab = slice_rows(test.labels, start, end);
    b.images.push_back(im.device() == device ? im : im.to(device));
    b.labels.push_back(lab.device() == device ? lab : lab.to(device));
  }
  return b;
}

Tensor run_stages(const std::vector<ForwardStage>& stages, size_t first, size_t last, Tensor x) {
  for (size_t k = first; k < last; ++k) x = stages[k].run(x);
  return x;
}

CleanPass clean_pass(const std::vector<ForwardStage>& stages, const TestBatches& batches, int64_t cap_bytes,
                     bool defer_baseline, size_t first_kept, const std::vector<bool>* keep) {
  CleanPass p;
  const size_t nb = batches.images.size();
  p.input.assign(stages.size(), std::vector<Tensor>(nb));
  p.layer_out.assign(stages.size(), std::vector<Tensor>(nb));
  std::vector<int64_t> bytes(stages.size(), 0);
  for (size_t b = 0; b < nb; ++b) {
    Tensor x = batches.images[b];
    for (size_t k = 0; k < stages.size(); ++k) {
      if (k == 0) p.input[0][b] = x;  // the batch itself: no memory of its own
      if (k < first_kept) {  // no point starts here: its activations go back to the allocator
        x = stages[k].run(x);
        continue;
      }
      p.input[k][b] = x;
      if (stages[k].layer && stages[k].after) {
        p.layer_out[k][b] = stages[k].layer->forward(x);
        x = stages[k].after(p.layer_out[k][b]);
        bytes[k] += static_cast<int64_t>(p.layer_out[k][b].nbytes());
      } else {
        x = stages[k].run(x);
      }
      if (k > 0) bytes[k] += static_cast<int64_t>(p.input[k][b].nbytes());
    }
    p.pending_logits.push_back(x);
    p.pending_labels.push_back(batches.labels[b]);
    if (!defer_baseline) p.baseline();
  }
  // Keep stages from the deepest back while they fit (the caches are computed in full first: one
  // pass over the data for the baseline and every kept stage).
  p.kept.assign(stages.size(), false);
  if (keep != nullptr) {
    STUCKAT_CHECK(keep->size() == stages.size(), "clean pass: {} stages to keep for {} stages", keep->size(), stages.size());
    for (size_t k = first_kept; k < stages.size(); ++k) p.kept[k] = (*keep)[k];
  } else {
    int64_t total = 0;
    for (size_t k = stages.size(); k-- > first_kept;) {
      if (total + bytes[k] > cap_bytes) break;
      total += bytes[k];
      p.kept[k] = true;
    }
  }
  for (size_t k = 0; k < stages.size(); ++k)
    if (!p.kept[k])
      for (size_t b = 0; b < nb; ++b) {
        if (k > 0) p.input[k][b] = Tensor();
        p.layer_out[k][b] = Tensor();
      }
  return p;
}

DeltaLayer delta_layer(const std::vector<ForwardStage>& stages, size_t s, const Tensor& weight, const CleanPass& clean) {
  DeltaLayer d;
  d.stage = s;
  const ForwardStage& st = stages[s];
  d.conv = dynamic_cast<Conv2d*>(st.layer);
  d.lin = dynamic_cast<Linear*>(st.layer);
  const bool owns = (d.conv && d.conv->weight.raw_data() == weight.raw_data()) ||
                    (d.lin && d.lin->weight.raw_data() == weight.raw_data());
  if (!st.after || !owns || !clean.kept[s]) {
    d.conv = nullptr, d.lin = nullptr;
    return d;
  }
  d.out_channels = weight.size(0);
  d.max_channels = d.out_channels / 2;
  if (!st.after_channels || s + 1 >= stages.size() || !stages[s + 1].after || !clean.kept[s + 1] ||
      clean.input[s + 1].empty())
    return d;
  d.next_conv = dynamic_cast<Conv2d*>(stages[s + 1].layer);
  d.next_lin = dynamic_cast<Linear*>(stages[s + 1].layer);
  const Tensor& next_in = clean.input[s + 1][0];
  const int64_t per_image = next_in.numel() / std::max<int64_t>(1, next_in.size(0));
  if (per_image % d.out_channels != 0) return d;
  d.block = per_image / d.out_channels;
  if (d.next_conv) {
    d.channel_path = next_in.dim() == 4 && next_in.size(1) == d.out_channels && d.next_conv->weight.size(1) == d.out_channels;
    // Into a conv the restricted pass costs about its share of the channels (conv2d_add_into adds
    // the clean output inside the conv), so it pays up to all channels but one: LeNet-5's conv1
    // points (2-5 of 6 channels) took 1664-1700 thread-ms against 1776 with at most 3 (median of
    // 5, 2026-11-28). Into a linear layer restricting past half did not pay (conv2 points: 1049
    // against 1007 thread-ms).
    d.max_channels = d.out_channels - 1;
  }
  else if (d.next_lin)
    d.channel_path = next_in.dim() == 2 && d.next_lin->weight.size(1) == per_image;
  return d;
}

DeltaPoint plan_delta_point(const DeltaLayer& L, const std::vector<WeightChange>& changes, int64_t weight_numel,
                            const Tensor& next_from) {
  DeltaPoint p;
  p.changes = changes;
  if (!L.channel_path || p.changes.empty()) return p;
  const int64_t per_out = weight_numel / L.out_channels;
  for (const WeightChange& c : p.changes)
    if (p.channels.empty() || p.channels.back() != c.index / per_out) p.channels.push_back(c.index / per_out);
  // Restrict only up to L.max_channels (decided by the point alone, so a row does not depend on
  // which points share its pass).
  if (static_cast<int64_t>(p.channels.size()) > L.max_channels) {
    p.channels.clear();
    return p;
  }
  size_t pos = 0;
  for (const WeightChange& c : p.changes) {
    while (p.channels[pos] != c.index / per_out) ++pos;
    p.sub_changes.push_back({static_cast<int64_t>(pos) * per_out + c.index % per_out, c.delta});
  }
  if (static_cast<int64_t>(p.channels.size()) == L.out_channels) {  // every channel: the weight itself
    p.next_weight = L.next_conv ? L.next_conv->weight : L.next_lin->weight;
  } else if (L.next_conv) {
    p.next_weight = select_index(next_from.defined() ? next_from : L.next_conv->weight, 1, p.channels);
  } else {
    const Tensor& w = next_from.defined() ? next_from : L.next_lin->weight;  // (out, channels * block): those channels' blocks
    Tensor blocks = select_index(w.view({w.size(0), L.out_channels, L.block}), 1, p.channels);
    p.next_weight = blocks.view({w.size(0), static_cast<int64_t>(p.channels.size()) * L.block});
  }
  return p;
}

LayerGeometry geometry_of(const DeltaLayer& L) {
  LayerGeometry g;
  if (L.conv) g = {true, L.conv->weight.size(2), L.conv->weight.size(3), L.conv->stride, L.conv->pad};
  return g;
}

PackedChanges point_changes(const DeltaLayer& L, const DeltaPoint& p) {
  PackedChanges c;
  c.geometry = geometry_of(L);
  const Tensor& w = L.conv ? L.conv->weight : L.lin->weight;
  c.per_out = w.numel() / w.size(0);
  const bool on_channels = !p.channels.empty();
  c.list = on_channels ? p.sub_changes : p.changes;
  c.out = on_channels ? static_cast<int64_t>(p.channels.size()) : w.size(0);
  return c;
}

bool fuses_relu_pool(const std::vector<ForwardStage>& stages, const DeltaLayer& L) {
  return L.conv != nullptr && L.conv->stride == 1 && stages[L.stage].after_relu_pool.matches;
}

void changes_through_relu_pool(const std::vector<ForwardStage>& stages, const CleanPass& clean, size_t b,
                               const DeltaLayer& L, const std::vector<int64_t>& channels,
                               const std::vector<WeightChange>& changes, Tensor& next, bool as_change) {
  const size_t s = L.stage;
  const Tensor& x = clean.input[s][b];
  const Tensor& clean_out = clean.layer_out[s][b];
  STUCKAT_CHECK(fuses_relu_pool(stages, L) && x.device() == Device::CPU && x.is_contiguous() &&
                    clean_out.is_contiguous() && next.is_contiguous(),
                "the fused ReLU / pool pass needs a stride-1 conv stage and contiguous CPU activations");
  const ForwardStage::ReluPool& rp = stages[s].after_relu_pool;
  const ReluPoolChain chain{rp.pool_k, rp.pool_stride, rp.pool_first};
  const int64_t out = channels.empty() ? L.out_channels : static_cast<int64_t>(channels.size());
  Tensor minus;  // as_change: the clean chain output, (n, L.out_channels, ph * pw) as the next stage reads it
  if (as_change) {
    minus = clean.input[s + 1][b].contiguous();
    STUCKAT_CHECK(minus.numel() == x.size(0) * L.out_channels * (next.numel() / std::max<int64_t>(1, x.size(0) * out)),
                  "the clean chain output has {} values, not the changed pass's layout", minus.numel());
  }
  conv2d_changes_relu_pool(x.data<float>(), clean_out.data<float>(), L.out_channels, channels, next.data<float>(),
                           x.size(0), x.size(1), x.size(2), x.size(3), out, L.conv->weight.size(2),
                           L.conv->weight.size(3), L.conv->pad, clean_out.size(2), clean_out.size(3), chain, changes,
                           as_change ? minus.data<float>() : nullptr);
}

void channel_path_next_out(const std::vector<ForwardStage>& stages, const CleanPass& clean, size_t b,
                           const DeltaLayer& L, const DeltaPoint& p, const PackedChanges& sub_changes, Tensor& dst) {
  const size_t s = L.stage;
  const Tensor& x = clean.input[s][b];
  const int64_t n = x.size(0), k = static_cast<int64_t>(p.channels.size());
  const Tensor& next_in = clean.input[s + 1][b];
  const ForwardStage::ReluPool& rp = stages[s].after_relu_pool;
  Tensor z;
  if (L.fused) {
    STUCKAT_CHECK(rp.matches, "the fused channel path needs a ReLU / max-pool stage");
    z = relu_pool_channel_delta(x, clean.layer_out[s][b], geometry_of(L), sub_changes, p.channels, rp.pool_k,
                                rp.pool_stride, rp.pool_first, next_in);
  } else if (fuses_relu_pool(stages, L) && x.device() == Device::CPU) {
    // The changed channels through the ReLU / pool chain image by image, in cache, less their
    // clean values (sweep_delta.h): every channel of p.channels has a change, so z is all written.
    STUCKAT_CHECK(!sub_changes.list.empty(), "a channel-path point without changes");
    z = Tensor::empty({n, k, L.block}, DType::F32, x.device());
    changes_through_relu_pool(stages, clean, b, L, p.channels, sub_changes.list, z, true);
  } else {
    Tensor y = select_index(clean.layer_out[s][b], 1, p.channels);
    add_weight_changes(x, y, geometry_of(L), sub_changes);
    z = stages[s].after_channels(y, p.channels).contiguous();
    const Tensor z_clean = select_index(next_in.view({n, L.out_channels, L.block}), 1, p.channels);
    STUCKAT_CHECK(z.numel() == z_clean.numel(), "after_channels returned {} values for {}", z.numel(), z_clean.numel());
    Tensor diff = z.view(z_clean.shape());
    sub_inplace(diff, z_clean);
  }
  STUCKAT_CHECK(z.numel() == n * k * L.block, "the channel path made {} values for {} x {} x {}", z.numel(), n, k, L.block);
  if (L.next_conv)
    conv2d_add_into(dst, z.view({n, k, next_in.size(2), next_in.size(3)}), p.next_weight, clean.layer_out[s + 1][b],
                    L.next_conv->stride, L.next_conv->pad);
  else
    add_into(dst, clean.layer_out[s + 1][b], linear(z.view({n, k * L.block}), p.next_weight, Tensor()));
}

FaultSpec point_spec(const SweepPoint& p) {
  FaultSpec spec;
  spec.layer = p.layer;
  spec.bit = p.bit;
  spec.sa1_fraction = p.stuck;
  spec.stuck_text = std::to_string(p.stuck);
  spec.rate = p.rate;
  spec.seed = p.seed;
  return spec;
}

}  // namespace stuckat::sweep
