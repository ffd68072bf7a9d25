// The sweep runner: prefix reuse per faulted layer and several fault configurations per pass.
#include "faults/sweep_runner.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "faults/block_scores.h"
#include "faults/channel_delta.h"
#include "faults/faulty_model.h"
#include "faults/sweep_delta.h"
#include "faults/sweep_point.h"
#include "faults/weight_changes_op.h"
#include "faults/weight_codec.h"
#include "faults/weight_format.h"
#include "framework/autograd.h"
#include "framework/error.h"
#include "framework/nn/layers.h"
#include "framework/ops.h"
#include "kernels/cuda/profile.h"

namespace stuckat {
namespace {

struct TestBatches {
  std::vector<Tensor> images;  // (count, c, h, w) each
  std::vector<Tensor> labels;  // (count) i32
};

// The test set in batches on `device`: views of it when it is already there (a caller that
// uploads it once, outside its timer), else copies.
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

// Running loss/accuracy of one point, accumulated batch by batch in order (as evaluate() does).
struct PointScore {
  double loss_sum = 0;
  int64_t correct = 0, images = 0;
  bool finite = true;
  void add(const Tensor& logits, const Tensor& labels) {
    const float l = cross_entropy(logits, labels).item();
    if (!std::isfinite(l)) finite = false;
    loss_sum += static_cast<double>(l) * static_cast<double>(labels.numel());
    correct += count_correct(logits, labels);
    images += labels.numel();
  }
  // A block of labels.numel() images scored at once (block_scores): its loss sum and hits.
  void add_block(const BlockScore& block, int64_t count) {
    if (!std::isfinite(block.loss_sum)) finite = false;
    loss_sum += block.loss_sum;
    correct += block.correct;
    images += count;
  }
  void fill(SweepRow& row) const {
    row.test_loss = images > 0 ? loss_sum / static_cast<double>(images) : 0;
    row.test_acc = images > 0 ? static_cast<double>(correct) / static_cast<double>(images) : 0;
    row.nan = !finite;
  }
};

// Runs stages [first, last) on x.
Tensor run_stages(const std::vector<ForwardStage>& stages, size_t first, size_t last, Tensor x) {
  for (size_t k = first; k < last; ++k) x = stages[k].run(x);
  return x;
}

// The clean (quantized, fault-free) model's activations for every test batch: what enters each
// stage and, for stages split as layer + after, the layer's output. Computed once per format;
// every point reuses the part before its faulted layer. The final logits give the baseline.
// Under a memory cap the deepest stages are kept (they are the smallest, and their points gain
// the most); a point of a stage that is not kept runs from the deepest kept input before it.
struct CleanPass {
  std::vector<std::vector<Tensor>> input;      // [stage][batch]; input[0] (the images) is always kept
  std::vector<std::vector<Tensor>> layer_out;  // [stage][batch]; undefined for unsplit stages
  std::vector<bool> kept;                      // [stage]: input and layer_out are kept
  PointScore baseline;
  // The stage to start a point of stage s from: s itself when kept, else the deepest kept one before.
  size_t start_for(size_t s) const {
    while (s > 0 && !kept[s]) --s;
    return s;
  }
};

CleanPass clean_pass(const std::vector<ForwardStage>& stages, const TestBatches& batches, int64_t cap_bytes) {
  CleanPass p;
  const size_t nb = batches.images.size();
  p.input.assign(stages.size(), std::vector<Tensor>(nb));
  p.layer_out.assign(stages.size(), std::vector<Tensor>(nb));
  std::vector<int64_t> bytes(stages.size(), 0);
  for (size_t b = 0; b < nb; ++b) {
    Tensor x = batches.images[b];
    for (size_t k = 0; k < stages.size(); ++k) {
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
    p.baseline.add(x, batches.labels[b]);
  }
  // Keep stages from the deepest back while they fit (the caches are computed in full first: one
  // pass over the data for the baseline and every kept stage).
  p.kept.assign(stages.size(), false);
  int64_t total = 0;
  for (size_t k = stages.size(); k-- > 0;) {
    if (total + bytes[k] > cap_bytes) break;
    total += bytes[k];
    p.kept[k] = true;
  }
  for (size_t k = 0; k < stages.size(); ++k)
    if (!p.kept[k])
      for (size_t b = 0; b < nb; ++b) {
        if (k > 0) p.input[k][b] = Tensor();
        p.layer_out[k][b] = Tensor();
      }
  return p;
}

// One point of a delta group: its changed weights and, when only a few of the layer's output
// channels changed and the next stage can take a partial input, those channels and the next
// layer's weights restricted to them (channel propagation).
struct DeltaPoint {
  std::vector<WeightChange> changes;
  std::vector<int64_t> channels;         // ascending; empty = propagate the whole layer output
  std::vector<WeightChange> sub_changes;  // changes re-indexed to the selected channels
  Tensor next_weight;                     // the next layer's weight on those input channels
};

struct DeltaLayer {
  size_t stage = 0;
  Conv2d* conv = nullptr;
  Linear* lin = nullptr;
  int64_t out_channels = 0;
  // Channel propagation into stage + 1 (see ForwardStage::after_channels).
  bool channel_path = false;
  Conv2d* next_conv = nullptr;
  Linear* next_lin = nullptr;
  int64_t block = 0;  // values per channel in stage + 1's input, per image
  // A point takes the channel path when it changed at most this many channels. On the CPU,
  // restricting pays while it skips at least half of them; run_copy_group (the GPU path)
  // restricts up to all but one (its alternative runs the whole next layer per point too).
  int64_t max_channels = 0;
  // The changed channels go through stage s's ReLU / max-pool chain in one fused pass
  // (relu_pool_channel_delta; ForwardStage::after_relu_pool must match).
  bool fused = false;
};

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
  if (d.next_conv)
    d.channel_path = next_in.dim() == 4 && next_in.size(1) == d.out_channels && d.next_conv->weight.size(1) == d.out_channels;
  else if (d.next_lin)
    d.channel_path = next_in.dim() == 2 && d.next_lin->weight.size(1) == per_image;
  return d;
}

DeltaPoint plan_delta_point(const DeltaLayer& L, const std::vector<WeightChange>& changes, int64_t weight_numel) {
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
  if (L.next_conv) {
    p.next_weight = select_index(L.next_conv->weight, 1, p.channels);
  } else {
    const Tensor& w = L.next_lin->weight;  // (out, channels * block): take those channels' blocks
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

// What add_weight_changes adds for point p of layer L (to be packed): its changes re-indexed to
// its channels on the channel path, else all of them.
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

// Writes into dst (shaped like stage s + 1's clean layer output on batch b) that output for a
// point on the channel path (p.channels non-empty): only the changed channels of stage s run
// (clean values plus the changes, then after_channels; on the GPU one fused pass when that is
// ReLU and a max pool, channel_delta.h), their clean values are subtracted, and the next layer
// applied to that difference (it is linear) is added to its clean output. `sub_changes` is
// point_changes(L, p) packed for the tensors' device.
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

// Logits of one delta point on batch b.
Tensor delta_point_logits(const std::vector<ForwardStage>& stages, const CleanPass& clean, size_t b,
                          const DeltaLayer& L, const DeltaPoint& p) {
  const size_t s = L.stage;
  const Tensor& x = clean.input[s][b];
  if (p.channels.empty()) {  // the whole layer output: clean output + the changed weights' part
    Tensor y = clean.layer_out[s][b].clone();
    add_weight_changes(x, y, geometry_of(L), p.changes);
    return run_stages(stages, s + 1, stages.size(), stages[s].after(y));
  }
  std::vector<PackedChanges> sub = {point_changes(L, p)};
  pack_weight_changes(sub, x.device());
  Tensor y_next = Tensor::empty(clean.layer_out[s + 1][b].shape(), DType::F32, x.device());
  channel_path_next_out(stages, clean, b, L, p, sub[0], y_next);
  return run_stages(stages, s + 2, stages.size(), stages[s + 1].after(y_next));
}

bool same_changes(const std::vector<WeightChange>& a, const std::vector<WeightChange>& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](const WeightChange& u, const WeightChange& v) {
           return u.index == v.index && std::memcmp(&u.delta, &v.delta, sizeof(float)) == 0;
         });
}

// The fault spec of one sweep point (one layer, one bit position, one stuck value, one rate).
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

// A stacked point whose changed weights are at most 1/kDeltaFraction of the layer takes the clean
// layer output plus their part (add_weight_changes); more, and the whole layer is recomputed.
constexpr int64_t kDeltaFraction = 8;

// A point of a stacked pass (run_copy_group) with at least one changed weight.
struct StackedPoint {
  int64_t slot = 0;   // its faulted weights: row `slot` of the weight stack
  bool full = false;  // many changes: the layer runs with its weights
  DeltaPoint plan;    // otherwise its changes (and, on the channel path, its channels)
};

// The points [g, end) of one group (one format, one layer) through the forward model `fwd`, a
// separate copy of the model (on the GPU, or on the CPU in tests): the layer's clean words go to
// its device once, then each point's faulted weights are drawn, applied and decoded there
// (fault_layer) and the forward runs from the cached input of stage s.
// When stage s begins with the faulted conv/linear layer (a split stage), up to `per_pass` points
// share each pass. Their weights are drawn into the rows of a weight stack; their counts and
// changed-weight bits come back in one copy each, and the changes are rebuilt on the CPU
// (changed_weights); a point changing few weights takes the cached clean layer output
// plus its changed weights' part (add_weight_changes; all points' changes go up in one copy),
// one changing many runs the layer with its weights (conv2d_multi / linear_multi). When the next
// stage's layer reads stage s's output channel by channel (DeltaLayer::channel_path) and some
// point changed few channels, the pass stacks the next layer's outputs instead: such a point
// runs only its changed channels through stage s and adds the next layer applied to their
// difference to that layer's clean output (channel_path_next_out), the others run stage s and
// the next layer in full. The rest of the network runs once on the outputs stacked along the
// batch, so its kernels see per_pass times the images, scored by one block_scores per batch.
// Otherwise (slots of 1) each point writes the forward model's weight and runs alone. A point
// whose faults change no word scores as the baseline, as on the CPU path.
void run_copy_group(const SweepGrid& grid, const std::vector<int64_t>& points, size_t g, size_t end,
                    const std::string& model_name, const WeightFormat& format, const Tensor& original,
                    const Tensor& quantized, Tensor& fwd_weight, const std::vector<ForwardStage>& stages, size_t s,
                    const CleanPass& clean, const TestBatches& batches, int64_t per_pass,
                    int64_t channel_path_min_macs, bool fused_on_cpu,
                    const std::function<void(const SweepRow&)>& on_row) {
  const Device device = fwd_weight.device();
  const int64_t n = original.numel();
  const WeightFormat resolved = resolve_layer_format(format, original.data<float>(), n);
  Tensor words = Tensor::empty({n}, DType::I16);
  encode_weights(original.data<float>(), static_cast<uint16_t*>(words.raw_data()), n, resolved);
  const Tensor words_dev = words.to(device), clean_dev = original.to(device);
  const std::string layer = sweep_point(grid, points[g]).layer;
  const std::string forward_region = "sweep.forward from " + layer;
  auto new_row = [&](size_t i) {
    SweepRow row;
    row.point = sweep_point(grid, points[i]);
    row.model = model_name;
    return row;
  };

  const ForwardStage& st = stages[s];
  auto* conv = dynamic_cast<Conv2d*>(st.layer);
  auto* lin = dynamic_cast<Linear*>(st.layer);
  const bool owns = (conv && conv->weight.raw_data() == fwd_weight.raw_data()) ||
                    (lin && lin->weight.raw_data() == fwd_weight.raw_data());
  if (!(st.after && owns && per_pass > 1)) {  // one point at a time
    for (size_t i = g; i < end; ++i) {
      SweepRow row = new_row(i);
      const PointFaultCounts counts =
          fault_layer(make_fault_draw(point_spec(row.point), layer), words_dev, clean_dev, resolved, fwd_weight.view({n}));
      row.faulty_weights = counts.faulty;
      row.changed_weights = counts.changed;
      PointScore score;
      for (size_t b = 0; counts.changed > 0 && b < batches.images.size(); ++b) {
        Tensor logits;
        {
          STUCKAT_GPU_PROFILE(forward_region.c_str());
          logits = run_stages(stages, s, stages.size(), clean.input[s][b]);
        }
        score.add_block(block_scores(logits, batches.labels[b], 1)[0], batches.labels[b].numel());
      }
      (counts.changed > 0 ? score : clean.baseline).fill(row);
      on_row(row);
    }
    fwd_weight.copy_(quantized);
    return;
  }

  DeltaLayer L = delta_layer(stages, s, fwd_weight, clean);
  if (L.channel_path && device == Device::CUDA) {
    // On the GPU the channel path costs three to six launches per point where the stacked pass
    // costs two: it pays only when the next layer has real work to skip (LeNet-5 at 10k images:
    // conv2 2.4 G multiply-adds, fc1 0.48 G, fc2 0.1 G go on it; fc3's 8 M does not).
    const Tensor& next_out = clean.layer_out[s + 1][0];
    const Tensor& next_w = L.next_conv ? L.next_conv->weight : L.next_lin->weight;
    const int64_t macs = next_out.numel() * (next_w.numel() / next_w.size(0));
    if (macs < channel_path_min_macs) L.channel_path = false;
  }
  L.max_channels = L.out_channels - 1;
  // One fused pass on the GPU (channel_delta.h), where the chain's passes over memory are the
  // cost. On the CPU the chain's vectorised loops win: the fused loop took twice as long for
  // LeNet-5's conv1 and conv2 points (12.5 against 25 points/s, 2 threads); tests ask for it there.
  L.fused = st.after_relu_pool.matches && (device == Device::CUDA || fused_on_cpu);
  const LayerGeometry geometry = geometry_of(L);
  Shape wshape = fwd_weight.shape();
  wshape.insert(wshape.begin(), 1);
  const Tensor stack = Tensor::empty({per_pass, n}, DType::F32, device);
  const Tensor counts = Tensor::empty({per_pass, 2}, DType::I64, device);
  const int64_t bit_words = (n + 31) / 32;
  const Tensor bits = Tensor::empty({per_pass, bit_words}, DType::I32, device);

  for (size_t c = g; c < end; c += static_cast<size_t>(per_pass)) {
    const int64_t m = static_cast<int64_t>(std::min(end, c + static_cast<size_t>(per_pass)) - c);
    std::vector<FaultDraw> draws;
    for (int64_t i = 0; i < m; ++i) {
      draws.push_back(make_fault_draw(point_spec(sweep_point(grid, points[c + static_cast<size_t>(i)])), layer));
      fault_layer_into(draws.back(), words_dev, clean_dev, resolved, slice_rows(stack, i, i + 1).view({n}),
                       slice_rows(counts, i, i + 1).view({2}), slice_rows(bits, i, i + 1).view({bit_words}));
    }
    // The counts and the changed-weight bits come back (n / 8 bytes a point, not the n weights).
    const Tensor counts_host = slice_rows(counts, 0, m).to(Device::CPU);
    const Tensor bits_host = slice_rows(bits, 0, m).to(Device::CPU);
    const auto* count_of = static_cast<const int64_t*>(counts_host.raw_data());
    const auto* bits_of = static_cast<const uint32_t*>(bits_host.raw_data());

    std::vector<SweepRow> rows;
    std::vector<int64_t> used_of;  // per row: its entry in `used`, or -1 (scores as the baseline)
    std::vector<StackedPoint> used;
    std::vector<PackedChanges> packed;  // per used point: what add_weight_changes adds
    bool channel_level = false;         // some point takes the channel path: stack stage s + 1's outputs
    for (int64_t i = 0; i < m; ++i) {
      SweepRow row = new_row(c + static_cast<size_t>(i));
      row.faulty_weights = count_of[2 * i];
      row.changed_weights = count_of[2 * i + 1];
      rows.push_back(row);
      if (row.changed_weights == 0) {
        used_of.push_back(-1);
        continue;
      }
      used_of.push_back(static_cast<int64_t>(used.size()));
      StackedPoint sp;
      sp.slot = i;
      sp.full = row.changed_weights * kDeltaFraction > n;
      if (!sp.full) {
        const std::vector<WeightChange> changes =
            changed_weights(draws[static_cast<size_t>(i)], bits_of + i * bit_words, words, original, quantized, resolved);
        sp.plan = plan_delta_point(L, changes, n);
        channel_level = channel_level || !sp.plan.channels.empty();
      }
      packed.push_back(point_changes(L, sp.plan));  // empty for a full point
      used.push_back(std::move(sp));
    }
    pack_weight_changes(packed, device);

    const int64_t count = static_cast<int64_t>(used.size());
    std::vector<PointScore> scores(used.size());
    for (size_t b = 0; count > 0 && b < batches.images.size(); ++b) {
      const Tensor& x = clean.input[s][b];
      const Tensor& clean_out = clean.layer_out[s][b];
      const int64_t images = x.size(0);
      // Point p's stage-s layer output into y (shaped like clean_out).
      auto layer_out = [&](size_t p, Tensor& y) {
        if (!used[p].full) {
          y.copy_(clean_out);
          add_weight_changes(x, y, geometry, packed[p]);
        } else {
          const Tensor weights = slice_rows(stack, used[p].slot, used[p].slot + 1).view(wshape);
          y.copy_(conv ? conv2d_multi(x, weights, conv->bias, conv->stride, conv->pad)
                       : linear_multi(x, weights, lin->bias));
        }
      };
      Tensor logits;
      {
        STUCKAT_GPU_PROFILE(forward_region.c_str());
        const Tensor& level_out = channel_level ? clean.layer_out[s + 1][b] : clean_out;
        Shape yshape = level_out.shape();
        yshape[0] = count * images;
        const Tensor y = Tensor::empty(yshape, DType::F32, device);
        for (size_t p = 0; p < used.size(); ++p) {
          const int64_t row0 = static_cast<int64_t>(p) * images;
          Tensor block = slice_rows(y, row0, row0 + images);
          if (!channel_level) {
            layer_out(p, block);
          } else if (!used[p].plan.channels.empty()) {
            channel_path_next_out(stages, clean, b, L, used[p].plan, packed[p], block);
          } else {
            Tensor own = Tensor::empty(clean_out.shape(), DType::F32, device);
            layer_out(p, own);
            block.copy_(stages[s + 1].layer->forward(st.after(own)));
          }
        }
        logits = channel_level ? run_stages(stages, s + 2, stages.size(), stages[s + 1].after(y))
                               : run_stages(stages, s + 1, stages.size(), st.after(y));
      }
      const std::vector<BlockScore> blocks = block_scores(logits, batches.labels[b], count);
      for (int64_t p = 0; p < count; ++p)
        scores[static_cast<size_t>(p)].add_block(blocks[static_cast<size_t>(p)], batches.labels[b].numel());
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      const PointScore& score = used_of[i] < 0 ? clean.baseline : scores[static_cast<size_t>(used_of[i])];
      score.fill(rows[i]);
      on_row(rows[i]);
    }
  }
  fwd_weight.copy_(quantized);
}

// Points per pass of run_copy_group: at most `configs`, and as many as keep the stacked
// activations of stages s.. (twice the largest per-batch tensor per point: a stage's input and
// output live together) within `bytes`.
int64_t points_per_pass(const CleanPass& clean, size_t s, int64_t configs, int64_t bytes) {
  int64_t largest = 1;
  for (size_t k = s; k < clean.input.size(); ++k) {
    if (clean.input[k].empty()) continue;  // no test batches
    for (const Tensor& t : {clean.input[k].front(), clean.layer_out[k].front()})
      if (t.defined()) largest = std::max<int64_t>(largest, static_cast<int64_t>(t.nbytes()));
  }
  return std::max<int64_t>(1, std::min<int64_t>(configs, bytes / (2 * largest)));
}

}  // namespace

void run_sweep(Module& model, const std::string& model_name, const Dataset& test, const SweepGrid& grid,
               const std::vector<int64_t>& points, const SweepRunOptions& options,
               const std::function<void(const SweepRow&)>& on_row) {
  STUCKAT_CHECK(options.batch >= 1 && options.configs_per_pass >= 1, "sweep batch and configs per pass must be >= 1");
  for (size_t i = 1; i < points.size(); ++i) STUCKAT_CHECK(points[i - 1] < points[i], "sweep points must ascend");
  if (points.empty()) return;
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();

  // Forward passes run on `fwd`: the model itself, or its copy on the GPU.
  Module& fwd = options.device_model != nullptr ? *options.device_model : model;
  const bool on_device = options.device_model != nullptr;
  const bool fwd_was_training = fwd.is_training();
  fwd.eval();
  const std::vector<ForwardStage> stages = fwd.forward_stages();
  std::map<std::string, size_t> stage_of;
  for (size_t k = 0; k < stages.size(); ++k)
    for (const std::string& layer : stages[k].layers) stage_of.emplace(layer, k);
  std::map<std::string, Tensor> weight_of, clean_of;  // layer -> parameter, its original values
  const NamedTensorList params = model.named_parameters();
  for (const std::string& layer : faultable_layer_names(model))
    for (const auto& [name, t] : params)
      if (name == layer + ".weight") {
        weight_of[layer] = t;
        clean_of[layer] = t.clone();
      }
  std::map<std::string, Tensor> fwd_weight_of;  // layer -> the parameter the forward passes read
  if (on_device) {
    for (const auto& [name, t] : fwd.named_parameters())
      for (const auto& [layer, w] : weight_of)
        if (name == layer + ".weight") {
          STUCKAT_CHECK(t.shape() == w.shape(), "device model layer {} has another shape", layer);
          fwd_weight_of[layer] = t;
        }
    STUCKAT_CHECK(fwd_weight_of.size() == weight_of.size(), "the device model lacks some faultable layers");
  } else {
    fwd_weight_of = weight_of;
  }
  // Copies the CPU model's weights of every faultable layer into the device model.
  auto sync_device = [&] {
    if (on_device)
      for (auto& [layer, w] : weight_of) fwd_weight_of[layer].copy_(w);
  };
  auto restore_all = [&] {
    for (auto& [layer, w] : weight_of) std::memcpy(w.data<float>(), clean_of[layer].data<float>(), w.nbytes());
  };

  const NamedTensorList fwd_params = fwd.named_parameters();
  const Device fwd_device = fwd_params.empty() ? Device::CPU : fwd_params.front().second.device();
  const TestBatches batches = split_test_set(test, options.batch, fwd_device);
  const size_t nb = batches.images.size();
  std::string pass_format;  // the format whose clean pass is in `clean`
  CleanPass clean;

  size_t g = 0;
  while (g < points.size()) {
    // A group: consecutive points of one format that fault the same layer (or one baseline).
    const SweepPoint first = sweep_point(grid, points[g]);
    size_t end = g + 1;
    while (!first.baseline && end < points.size()) {
      const SweepPoint p = sweep_point(grid, points[end]);
      if (p.baseline || p.format != first.format || p.layer != first.layer) break;
      ++end;
    }
    const WeightFormat format = parse_weight_format(first.format);
    // Every layer holds its clean words: after a format change, and after a group of the CPU
    // path, whose points rewrote the model's weights (the model-copy path leaves them alone and
    // restores its copy's layer itself, so it skips this CPU work between its groups).
    if (pass_format != first.format || (!first.baseline && !on_device)) {
      restore_all();
      FaultInjection quantize_all(model, format, {}, true);
      quantize_all.apply();
      sync_device();
    }
    if (pass_format != first.format) {
      STUCKAT_GPU_PROFILE("sweep.clean_pass");
      clean = clean_pass(stages, batches, options.prefix_cache_bytes);
      pass_format = first.format;
    }

    if (first.baseline) {
      SweepRow row;
      row.point = first;
      row.model = model_name;
      clean.baseline.fill(row);
      on_row(row);
      g = end;
      continue;
    }

    STUCKAT_CHECK(stage_of.count(first.layer) && weight_of.count(first.layer),
                  "layer {} is not read by any forward stage of the model", first.layer);
    Tensor weight = weight_of[first.layer];
    const Tensor& original = clean_of[first.layer];
    const Tensor quantized = weight.clone();  // the layer's clean words, decoded
    const size_t s = clean.start_for(stage_of[first.layer]);  // where its points start
    const std::vector<Tensor>& inputs = clean.input[s];
    Tensor fwd_weight = fwd_weight_of[first.layer];
    if (on_device) {
      const int64_t per_pass = points_per_pass(clean, s, options.configs_per_pass, options.pass_bytes);
      run_copy_group(grid, points, g, end, model_name, format, original, quantized, fwd_weight, stages, s, clean,
                     batches, per_pass, options.channel_path_min_macs, options.fused_channel_delta_on_cpu, on_row);
      g = end;
      continue;
    }
    const DeltaLayer layer = delta_layer(stages, s, weight, clean);
    const bool delta_path = layer.conv || layer.lin;

    for (size_t c = g; c < end; c += static_cast<size_t>(options.configs_per_pass)) {
      const size_t c_end = std::min(end, c + static_cast<size_t>(options.configs_per_pass));
      std::vector<SweepRow> rows;
      std::vector<Tensor> faulted(c_end - c);     // full faulted weights (no delta path)
      std::vector<DeltaPoint> plans(c_end - c);   // delta path
      std::vector<std::vector<WeightChange>> changes_of;
      std::vector<int64_t> same_as;  // -1: computed; -2: no weight changed (the baseline); else an earlier row
      for (size_t i = c; i < c_end; ++i) {
        STUCKAT_GPU_PROFILE("sweep.fault_point (CPU)");
        SweepRow row;
        row.point = sweep_point(grid, points[i]);
        row.model = model_name;
        const FaultSpec spec = point_spec(row.point);
        std::memcpy(weight.data<float>(), original.data<float>(), weight.nbytes());  // the snapshot must be unquantized
        FaultInjection inject(model, format, {spec});
        const std::vector<LayerFaultStats> stats = inject.apply();
        STUCKAT_CHECK(stats.size() == 1, "a sweep point faults exactly one layer");
        row.faulty_weights = stats[0].faulty;
        row.changed_weights = stats[0].changed;
        std::vector<WeightChange> changes = weight_changes(quantized.data<float>(), weight.data<float>(), weight.numel());
        // A point's score depends only on its changed weights: none changed is the baseline, and
        // the same changes as an earlier point of the pass give that point's score.
        int64_t same = changes.empty() ? -2 : -1;
        for (size_t j = 0; j < rows.size() && same == -1; ++j)
          if (same_as[j] == -1 && same_changes(changes, changes_of[j])) same = static_cast<int64_t>(j);
        same_as.push_back(same);
        if (same == -1 && delta_path) plans[rows.size()] = plan_delta_point(layer, changes, weight.numel());
        if (same == -1 && !delta_path) faulted[rows.size()] = weight.clone();
        changes_of.push_back(std::move(changes));
        rows.push_back(row);
      }
      std::memcpy(weight.data<float>(), quantized.data<float>(), weight.nbytes());
      std::vector<PointScore> scores(rows.size());
      std::vector<int64_t> todo;
      for (size_t i = 0; i < rows.size(); ++i)
        if (same_as[i] == -1) todo.push_back(static_cast<int64_t>(i));
      const int64_t count = static_cast<int64_t>(todo.size());
      if (!delta_path) {
        for (size_t b = 0; b < nb; ++b)
          for (int64_t i : todo) {
            std::memcpy(weight.data<float>(), faulted[static_cast<size_t>(i)].data<float>(), weight.nbytes());
            scores[static_cast<size_t>(i)].add(run_stages(stages, s, stages.size(), inputs[b]), batches.labels[b]);
          }
        std::memcpy(weight.data<float>(), quantized.data<float>(), weight.nbytes());
      } else {
        // The points of a pass only read the model and the clean activations, so they run side
        // by side, one per thread (the kernels inside then run single-threaded). A point's values
        // do not depend on the thread that runs it, so rows are the same for any count.
        for (size_t b = 0; b < nb; ++b) {
#pragma omp parallel for schedule(dynamic, 1)
          for (int64_t t = 0; t < count; ++t) {
            const size_t i = static_cast<size_t>(todo[static_cast<size_t>(t)]);
            NoGradGuard thread_no_grad;  // gradient mode is per thread
            scores[i].add(delta_point_logits(stages, clean, b, layer, plans[i]), batches.labels[b]);
          }
        }
      }
      for (size_t i = 0; i < rows.size(); ++i) {
        const PointScore& score = same_as[i] == -2 ? clean.baseline
                                  : same_as[i] >= 0 ? scores[static_cast<size_t>(same_as[i])]
                                                    : scores[i];
        score.fill(rows[i]);
        on_row(rows[i]);
      }
    }
    g = end;
  }
  restore_all();
  sync_device();
  model.train(was_training);
  if (on_device) fwd.train(fwd_was_training);
}

}  // namespace stuckat
