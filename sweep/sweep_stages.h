// The pieces both sweep paths share (sweep_runner.cpp, the CPU path; sweep_copy_path.cpp, the
// model copy on the GPU): the test set in batches, a point's running score, the clean pass whose
// activations every point reuses, and the delta / channel-path planning of a point's changed
// weights. Internal to sweep/.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "sweep/block_scores.h"
#include "faults/fault_spec.h"
#include "sweep/sweep_csv.h"
#include "sweep/sweep_delta.h"
#include "sweep/sweep_grid.h"
#include "sweep/weight_changes_op.h"
#include "framework/data/dataset.h"
#include "framework/nn/layers.h"
#include "framework/nn/module.h"
#include "framework/ops.h"
#include "framework/tensor.h"

namespace stuckat::sweep {

struct TestBatches {
  std::vector<Tensor> images;  // (count, c, h, w) each
  std::vector<Tensor> labels;  // (count) i32
};

// The test set in batches on `device`: views of it when it is already there (a caller that
// uploads it once, outside its timer), else copies.
TestBatches split_test_set(const Dataset& test, int64_t batch, Device device);

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
  // Another score's batches after this one's: the same sums as adding them here in order.
  void merge(const PointScore& o) {
    finite = finite && o.finite;
    loss_sum += o.loss_sum;
    correct += o.correct;
    images += o.images;
  }
  void fill(SweepRow& row) const {
    row.test_loss = images > 0 ? loss_sum / static_cast<double>(images) : 0;
    row.test_acc = images > 0 ? static_cast<double>(correct) / static_cast<double>(images) : 0;
    row.nan = !finite;
  }
};

// Runs stages [first, last) on x.
Tensor run_stages(const std::vector<ForwardStage>& stages, size_t first, size_t last, Tensor x);

// The clean (quantized, fault-free) model's activations for every test batch: what enters each
// stage and, for stages split as layer + after, the layer's output. Computed once per format;
// every point reuses the part before its faulted layer. The final logits give the baseline.
// Under a memory cap the deepest stages are kept (they are the smallest, and their points gain
// the most); a point of a stage that is not kept runs from the deepest kept input before it.
struct CleanPass {
  std::vector<std::vector<Tensor>> input;      // [stage][batch]; input[0] (the images) is always kept
  std::vector<std::vector<Tensor>> layer_out;  // [stage][batch]; undefined for unsplit stages
  std::vector<bool> kept;                      // [stage]: input and layer_out are kept
  // The stage to start a point of stage s from: s itself when kept, else the deepest kept one before.
  size_t start_for(size_t s) const {
    while (s > 0 && !kept[s]) --s;
    return s;
  }
  // The clean model's score (each batch as evaluate() scores it). Read back on first use when
  // the pass deferred it, so that computing the pass queues work without waiting for it.
  const PointScore& baseline() {
    for (size_t b = 0; b < pending_logits.size(); ++b) baseline_score.add(pending_logits[b], pending_labels[b]);
    pending_logits.clear();
    pending_labels.clear();
    return baseline_score;
  }

  PointScore baseline_score;
  std::vector<Tensor> pending_logits, pending_labels;  // [batch] while the baseline waits to be scored
};

// The clean pass over every batch, keeping the deepest stages whose activations fit cap_bytes.
// defer_baseline: keep the logits and score them when baseline() is first called. first_kept:
// the shallowest stage a point will start from; the activations of the stages before it are not
// kept (nor written to fresh memory: each batch reuses the last one's blocks), input[0] aside.
// keep: the stages to keep, as an earlier pass chose them (cap_bytes is then not consulted).
CleanPass clean_pass(const std::vector<ForwardStage>& stages, const TestBatches& batches, int64_t cap_bytes,
                     bool defer_baseline = false, size_t first_kept = 0, const std::vector<bool>* keep = nullptr);

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
  // restricting pays while it skips at least half of them, or one channel when the next layer is
  // a conv (delta_layer); the model-copy path (sweep_copy_path.h) sets its own limit.
  int64_t max_channels = 0;
  // The changed channels go through stage s's ReLU / max-pool chain in one fused pass
  // (relu_pool_channel_delta; ForwardStage::after_relu_pool must match).
  bool fused = false;
};

DeltaLayer delta_layer(const std::vector<ForwardStage>& stages, size_t s, const Tensor& weight, const CleanPass& clean);

// next_from: the next layer's weights to take a channel-path point's channels from, shaped like
// them (a host copy, say, whose selections the caller uploads together), or undefined for that
// layer's own weights. A point on every channel takes the layer's own weights either way.
DeltaPoint plan_delta_point(const DeltaLayer& L, const std::vector<WeightChange>& changes, int64_t weight_numel,
                            const Tensor& next_from = Tensor());

LayerGeometry geometry_of(const DeltaLayer& L);

// Whether a point's changed output channels of L can go through its stage's ReLU / max-pool chain
// per image in one pass on the CPU (conv2d_changes_relu_pool: a stride-1 conv whose stage's
// `after` is exactly that chain).
bool fuses_relu_pool(const std::vector<ForwardStage>& stages, const DeltaLayer& L);
// That pass for batch b: next (the stage's chain output, prefilled with the clean one) gets the
// channels `changes` touch recomputed; `channels` as in conv2d_changes_relu_pool (empty: all of
// L's output channels, next shaped like the next stage's input; else next holds those channels).
// as_change: next receives the recomputed channels less their clean values instead (every
// channel of `channels` must have a change; next need not be prefilled).
void changes_through_relu_pool(const std::vector<ForwardStage>& stages, const CleanPass& clean, size_t b,
                               const DeltaLayer& L, const std::vector<int64_t>& channels,
                               const std::vector<WeightChange>& changes, Tensor& next, bool as_change = false);

// What add_weight_changes adds for point p of layer L (to be packed): its changes re-indexed to
// its channels on the channel path, else all of them.
PackedChanges point_changes(const DeltaLayer& L, const DeltaPoint& p);

// Writes into dst (shaped like stage s + 1's clean layer output on batch b) that output for a
// point on the channel path (p.channels non-empty): only the changed channels of stage s run
// (clean values plus the changes, then after_channels; on the GPU one fused pass when that is
// ReLU and a max pool, channel_delta.h), their clean values are subtracted, and the next layer
// applied to that difference (it is linear) is added to its clean output. `sub_changes` is
// point_changes(L, p) packed for the tensors' device.
void channel_path_next_out(const std::vector<ForwardStage>& stages, const CleanPass& clean, size_t b,
                           const DeltaLayer& L, const DeltaPoint& p, const PackedChanges& sub_changes, Tensor& dst);

// The fault spec of one sweep point (one layer, one bit position, one stuck value, one rate).
FaultSpec point_spec(const SweepPoint& p);

// A stacked point whose changed weights are at most 1/kDeltaFraction of the layer takes the clean
// layer output plus their part (add_weight_changes); more, and the whole layer is recomputed.
constexpr int64_t kDeltaFraction = 8;

}  // namespace stuckat::sweep
