// The sweep runner: prefix reuse per faulted layer and several fault configurations per pass.
#include "faults/sweep_runner.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "faults/block_scores.h"
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

TestBatches split_test_set(const Dataset& test, int64_t batch) {
  STUCKAT_CHECK(test.images.device() == Device::CPU && test.images.is_contiguous() && test.labels.is_contiguous(),
                "the sweep's test set must be contiguous on the CPU");
  TestBatches b;
  const int64_t n = test.size();
  const int64_t per_image = n > 0 ? test.images.numel() / n : 0;
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t count = std::min(batch, n - start);
    Shape shape = test.images.shape();
    shape[0] = count;
    Tensor im = Tensor::empty(shape);
    std::memcpy(im.data<float>(), test.images.data<float>() + start * per_image,
                static_cast<size_t>(count * per_image) * sizeof(float));
    Tensor lab = Tensor::empty({count}, DType::I32);
    std::memcpy(lab.data<int32_t>(), test.labels.data<int32_t>() + start, static_cast<size_t>(count) * sizeof(int32_t));
    b.images.push_back(im);
    b.labels.push_back(lab);
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
  if (!st.after_channels || s + 1 >= stages.size() || !stages[s + 1].after || !clean.kept[s + 1]) return d;
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
  // Restricting pays while it skips at least half of the channels (decided by the point alone,
  // so a row does not depend on which points share its pass).
  if (2 * static_cast<int64_t>(p.channels.size()) > L.out_channels) {
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

// Adds a layer's weight changes to its output y (changes indexed for y's channel count).
void add_changes(const DeltaLayer& L, const Tensor& x, Tensor& y, const std::vector<WeightChange>& changes) {
  const int64_t out = y.size(1);
  if (L.conv) {
    const Shape& ws = L.conv->weight.shape();
    add_conv2d_weight_changes(x.data<float>(), y.data<float>(), x.size(0), x.size(1), x.size(2), x.size(3), out, ws[2],
                              ws[3], L.conv->stride, L.conv->pad, y.size(2), y.size(3), changes);
  } else {
    add_linear_weight_changes(x.data<float>(), y.data<float>(), x.size(0), L.lin->weight.size(1), out, changes);
  }
}

// Logits of one delta point on batch b.
Tensor delta_point_logits(const std::vector<ForwardStage>& stages, const CleanPass& clean, size_t b,
                          const DeltaLayer& L, const DeltaPoint& p) {
  const size_t s = L.stage;
  const Tensor& x = clean.input[s][b];
  if (p.channels.empty()) {  // the whole layer output: clean output + the changed weights' part
    Tensor y = clean.layer_out[s][b].clone();
    add_changes(L, x, y, p.changes);
    return run_stages(stages, s + 1, stages.size(), stages[s].after(y));
  }
  // Only the changed channels: run them through `after`, subtract their clean values, and add
  // the next layer applied to that difference (it is linear) to the next layer's clean output.
  const int64_t n = x.size(0), k = static_cast<int64_t>(p.channels.size());
  Tensor y = select_index(clean.layer_out[s][b], 1, p.channels);
  add_changes(L, x, y, p.sub_changes);
  Tensor z = stages[s].after_channels(y, p.channels).contiguous();
  const Tensor& next_in = clean.input[s + 1][b];
  Tensor z_clean = select_index(next_in.view({n, L.out_channels, L.block}), 1, p.channels);
  STUCKAT_CHECK(z.numel() == z_clean.numel(), "after_channels returned {} values for {}", z.numel(), z_clean.numel());
  float* zd = z.data<float>();
  const float* zc = z_clean.data<float>();
  const int64_t count = z.numel();
  for (int64_t i = 0; i < count; ++i) zd[i] -= zc[i];
  Tensor v = L.next_conv ? conv2d(z.view({n, k, next_in.size(2), next_in.size(3)}), p.next_weight, Tensor(),
                                  L.next_conv->stride, L.next_conv->pad)
                         : linear(z.view({n, k * L.block}), p.next_weight, Tensor());
  Tensor y_next = clean.layer_out[s + 1][b].clone();
  add_inplace(y_next, v);
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

// The points [g, end) of one group (one format, one layer) through the forward model `fwd`, a
// separate copy of the model (on the GPU, or on the CPU in tests): the layer's clean words go to
// its device once, then each point's faulted weights are drawn, applied and decoded there
// (fault_layer) into a slot of a weight stack, and the forward runs from the cached input of
// stage s. When stage s begins with the faulted conv/linear layer (a split stage), up to
// `per_pass` points share each pass: each point's layer output is the cached clean output plus
// its changed weights' part (few changes) or the layer run with its weights (conv2d_multi /
// linear_multi), and the rest of the network runs on their outputs stacked along the batch, so
// its kernels see per_pass times the images. Otherwise each point writes the forward
// model's weight and runs alone. A point whose faults change no word scores as the baseline, as on
// the CPU path.
void run_copy_group(const SweepGrid& grid, const std::vector<int64_t>& points, size_t g, size_t end,
                    const std::string& model_name, const WeightFormat& format, const Tensor& original,
                    const Tensor& quantized, Tensor& fwd_weight, const std::vector<ForwardStage>& stages, size_t s,
                    const CleanPass& clean, const TestBatches& batches, int64_t per_pass,
                    const std::function<void(const SweepRow&)>& on_row) {
  const Device device = fwd_weight.device();
  const int64_t n = original.numel();
  const WeightFormat resolved = resolve_layer_format(format, original.data<float>(), n);
  Tensor words = Tensor::empty({n}, DType::I16);
  encode_weights(original.data<float>(), static_cast<uint16_t*>(words.raw_data()), n, resolved);
  const Tensor words_dev = words.to(device), clean_dev = original.to(device);
  const std::string layer = sweep_point(grid, points[g]).layer;
  const std::string forward_region = "sweep.forward from " + layer;

  const ForwardStage& st = stages[s];
  auto* conv = dynamic_cast<Conv2d*>(st.layer);
  auto* lin = dynamic_cast<Linear*>(st.layer);
  const bool owns = (conv && conv->weight.raw_data() == fwd_weight.raw_data()) ||
                    (lin && lin->weight.raw_data() == fwd_weight.raw_data());
  const bool stacked = st.after && owns && per_pass > 1;
  const int64_t slots = stacked ? per_pass : 1;
  Tensor stack = stacked ? Tensor::empty({slots, n}, DType::F32, device) : Tensor();

  for (size_t c = g; c < end; c += static_cast<size_t>(slots)) {
    const size_t c_end = std::min(end, c + static_cast<size_t>(slots));
    std::vector<SweepRow> rows;
    std::vector<int64_t> slot_of;  // -1: scores as the baseline
    std::vector<std::vector<WeightChange>> delta_of;  // per used slot; empty: compute the whole layer
    int64_t used = 0;
    std::vector<PointScore> scores;
    for (size_t i = c; i < c_end; ++i) {
      SweepRow row;
      row.point = sweep_point(grid, points[i]);
      row.model = model_name;
      const Tensor out = stacked ? slice_rows(stack, used, used + 1).view({n}) : fwd_weight.view({n});
      const PointFaultCounts counts =
          fault_layer(make_fault_draw(point_spec(row.point), layer), words_dev, clean_dev, resolved, out);
      row.faulty_weights = counts.faulty;
      row.changed_weights = counts.changed;
      rows.push_back(row);
      if (counts.changed == 0) {
        slot_of.push_back(-1);
        continue;
      }
      slot_of.push_back(used++);
      if (stacked) {  // few changed weights: the clean layer output plus their part
        const Tensor faulted = out.to(Device::CPU);
        std::vector<WeightChange> changes = weight_changes(quantized.data<float>(), faulted.data<float>(), n);
        if (static_cast<int64_t>(changes.size()) * kDeltaFraction > n) changes.clear();  // many: the whole layer
        delta_of.push_back(std::move(changes));
      } else {  // this point alone, now: the next one overwrites the weight
        PointScore score;
        for (size_t b = 0; b < batches.images.size(); ++b) {
          Tensor logits;
          {
            STUCKAT_GPU_PROFILE(forward_region.c_str());
            logits = run_stages(stages, s, stages.size(), clean.input[s][b]);
          }
          score.add_block(block_scores(logits, batches.labels[b], 1)[0], batches.labels[b].numel());
        }
        scores.push_back(score);
      }
    }
    if (stacked && used > 0) {
      scores.assign(static_cast<size_t>(used), PointScore{});
      Shape wshape = fwd_weight.shape();
      wshape.insert(wshape.begin(), 1);
      LayerGeometry geometry;
      if (conv) geometry = {true, conv->weight.size(2), conv->weight.size(3), conv->stride, conv->pad};
      for (size_t b = 0; b < batches.images.size(); ++b) {
        const Tensor& x = clean.input[s][b];
        const Tensor& clean_out = clean.layer_out[s][b];
        const int64_t images = x.size(0);
        Tensor logits;
        {
          STUCKAT_GPU_PROFILE(forward_region.c_str());
          Shape yshape = clean_out.shape();
          yshape[0] = used * images;
          const Tensor y = Tensor::empty(yshape, DType::F32, device);
          for (int64_t p = 0; p < used; ++p) {
            Tensor block = slice_rows(y, p * images, (p + 1) * images);
            const std::vector<WeightChange>& changes = delta_of[static_cast<size_t>(p)];
            if (!changes.empty()) {
              block.copy_(clean_out);
              add_weight_changes(x, block, geometry, changes);
            } else {
              const Tensor weights = slice_rows(stack, p, p + 1).view(wshape);
              block.copy_(conv ? conv2d_multi(x, weights, conv->bias, conv->stride, conv->pad)
                               : linear_multi(x, weights, lin->bias));
            }
          }
          logits = run_stages(stages, s + 1, stages.size(), st.after(y));
        }
        const std::vector<BlockScore> blocks = block_scores(logits, batches.labels[b], used);
        for (int64_t p = 0; p < used; ++p)
          scores[static_cast<size_t>(p)].add_block(blocks[static_cast<size_t>(p)], batches.labels[b].numel());
      }
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      const PointScore& score = slot_of[i] < 0 ? clean.baseline : scores[static_cast<size_t>(slot_of[i])];
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
  TestBatches batches = split_test_set(test, options.batch);
  if (on_device)
    for (size_t b = 0; b < batches.images.size(); ++b) {
      batches.images[b] = batches.images[b].to(fwd_device);
      batches.labels[b] = batches.labels[b].to(fwd_device);
    }
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
    if (pass_format != first.format || !first.baseline) {  // every layer holds its clean words
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
                     batches, per_pass, on_row);
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
